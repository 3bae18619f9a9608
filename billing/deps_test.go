package billing_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies enforces the import rule of DESIGN.md and STYLE.md §1:
// billing and its subpackages reach no HTTP server, Echo, MongoDB driver,
// fhir/store or fhir/rest.
func TestDependencies(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not found; cannot list dependencies")
	}

	out, err := exec.Command(goBin, "list", "-deps", "./...").Output()
	if err != nil {
		t.Fatalf("go list -deps ./...: %v", err)
	}

	forbidden := []string{
		"github.com/labstack/echo",
		"go.mongodb.org/mongo-driver",
		"github.com/fhirbill/fhirbill/fhir/store",
		"github.com/fhirbill/fhirbill/fhir/rest",
		"net/http",
	}
	for _, pkg := range strings.Fields(string(out)) {
		for _, f := range forbidden {
			if pkg == f || strings.HasPrefix(pkg, f+"/") {
				t.Errorf("billing depends on %s", pkg)
			}
		}
	}
}
