package billing_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies enforces the import rule of DESIGN.md and STYLE.md §1:
// billing and its subpackages reach no HTTP server, Echo, MongoDB driver,
// fhir/store or fhir/rest, and imports no net/http.
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
	}
	// fhir/resource names HTTP statuses from net/http; billing itself
	// must not speak HTTP.
	direct, err := exec.Command(goBin, "list", "-f", `{{join .Imports "\n"}}`, "./...").Output()
	if err != nil {
		t.Fatalf("go list -f imports ./...: %v", err)
	}
	for _, pkg := range strings.Fields(string(direct)) {
		if pkg == "net/http" || strings.HasPrefix(pkg, "net/http/") {
			t.Errorf("billing imports %s", pkg)
		}
	}
	for _, pkg := range strings.Fields(string(out)) {
		for _, f := range forbidden {
			if pkg == f || strings.HasPrefix(pkg, f+"/") {
				t.Errorf("billing depends on %s", pkg)
			}
		}
	}
}
