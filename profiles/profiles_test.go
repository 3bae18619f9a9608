package profiles_test

import (
	"io/fs"
	"path"
	"strings"
	"testing"

	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"
	bcrpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/bundle_and_contained_resource_go_proto"

	"github.com/fhirbill/fhirbill/fhir/search"
	"github.com/fhirbill/fhirbill/profiles"
)

// TestSearchParameters_ValidR4 parses every embedded definition with the
// validating jsonformat unmarshaller.
func TestSearchParameters_ValidR4(t *testing.T) {
	u, err := jsonformat.NewUnmarshaller("UTC", fhirversion.R4)
	if err != nil {
		t.Fatalf("NewUnmarshaller: %v", err)
	}

	files, err := fs.Glob(profiles.SearchParameters, "searchparameters/*.json")
	if err != nil {
		t.Fatalf("glob: %v", err)
	}
	if len(files) == 0 {
		t.Fatal("got no embedded search parameters, want some")
	}

	for _, name := range files {
		t.Run(strings.TrimSuffix(path.Base(name), ".json"), func(t *testing.T) {
			b, err := fs.ReadFile(profiles.SearchParameters, name)
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			msg, err := u.Unmarshal(b)
			if err != nil {
				t.Fatalf("unmarshal %s: %v", name, err)
			}
			cr, ok := msg.(*bcrpb.ContainedResource)
			if !ok {
				t.Fatalf("got %T, want *ContainedResource", msg)
			}
			sp := cr.GetSearchParameter()
			if sp == nil {
				t.Fatal("got another resource type, want SearchParameter")
			}

			if got, want := len(sp.GetBase()), 1; got != want {
				t.Errorf("got %d base types, want %d", got, want)
			}
			// The file is named <Base>-<code>.json.
			if code := sp.GetCode().GetValue(); !strings.HasSuffix(name, "-"+code+".json") {
				t.Errorf("got code %q, want the one in the file name", code)
			}
		})
	}
}

// TestSearchParameters_Load checks that fhir/search accepts the whole set.
func TestSearchParameters_Load(t *testing.T) {
	r, err := search.Load(profiles.SearchParameters)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if got, want := len(r.Types()), 18; got != want {
		t.Errorf("got %d resource types, want %d", got, want)
	}
}

// TestConformance_ValidR4 parses every embedded conformance resource with
// the validating unmarshaller and checks that its file is named after its
// id and that its canonical URL ends with its type and id.
func TestConformance_ValidR4(t *testing.T) {
	u, err := jsonformat.NewUnmarshaller("UTC", fhirversion.R4)
	if err != nil {
		t.Fatalf("NewUnmarshaller: %v", err)
	}
	var n int
	err = fs.WalkDir(profiles.Conformance, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		n++
		b, err := fs.ReadFile(profiles.Conformance, name)
		if err != nil {
			return err
		}
		msg, err := u.Unmarshal(b)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			return nil
		}
		r := msg.(*bcrpb.ContainedResource)
		var id, url, typ string
		switch {
		case r.GetStructureDefinition() != nil:
			id, url, typ = r.GetStructureDefinition().GetId().GetValue(), r.GetStructureDefinition().GetUrl().GetValue(), "StructureDefinition"
		case r.GetCodeSystem() != nil:
			id, url, typ = r.GetCodeSystem().GetId().GetValue(), r.GetCodeSystem().GetUrl().GetValue(), "CodeSystem"
		case r.GetOperationDefinition() != nil:
			id, url, typ = r.GetOperationDefinition().GetId().GetValue(), r.GetOperationDefinition().GetUrl().GetValue(), "OperationDefinition"
		default:
			t.Errorf("%s: not a StructureDefinition, CodeSystem or OperationDefinition", name)
			return nil
		}
		if want := strings.TrimSuffix(path.Base(name), ".json"); id != want {
			t.Errorf("%s: id %q, want %q", name, id, want)
		}
		if want := "https://fhirbill.dev/fhir/" + typ + "/" + id; url != want {
			t.Errorf("%s: url %q, want %q", name, url, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 8 {
		t.Errorf("found %d conformance resources, want the 5 extensions, 1 code system and 3 operations", n)
	}
}
