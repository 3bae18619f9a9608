package store_test

import (
	"slices"
	"testing"

	"github.com/fhirbill/fhirbill/fhir/search"
	"github.com/fhirbill/fhirbill/fhir/store/storetest"
	"github.com/fhirbill/fhirbill/profiles"
)

// TestEnsureIndexes_EverySearchParameter checks that every search
// parameter fhirbill defines (profiles/searchparameters), among them the
// ones insurers search Claims and ClaimResponses with, has its index
// in MongoDB's layout once EnsureIndexes ran: s_<code>_k for tokens, references and URIs,
// s_<code>_r for dates, both s_<code>_k and s_<code>_x for strings.
func TestEnsureIndexes_EverySearchParameter(t *testing.T) {
	reg, err := search.Load(profiles.SearchParameters)
	if err != nil {
		t.Fatal(err)
	}
	var params []*search.Param
	for _, typ := range reg.Types() {
		params = append(params, reg.Params(typ)...)
	}
	s := storetest.New(t)
	if s.Packed() {
		// The packed layout of FerretDB has no search indexes, which it
		// would only maintain (TestStore_EnsureIndexes); MongoDB's
		// layout is the one with an index behind every parameter.
		s.SwapLayout()
	}
	if err := s.EnsureIndexes(t.Context(), params); err != nil {
		t.Fatal(err)
	}
	for _, typ := range reg.Types() {
		names, err := s.IndexNames(t.Context(), typ)
		if err != nil {
			t.Fatalf("indexes of %s: %v", typ, err)
		}
		for _, p := range reg.Params(typ) {
			if p.Resource != typ {
				continue // _id and _lastUpdated: the store's own fields
			}
			want := []string{"s_" + p.Code + "_k"}
			switch p.Type {
			case search.TypeDate:
				want = []string{"s_" + p.Code + "_r"}
			case search.TypeString:
				want = append(want, "s_"+p.Code+"_x")
			}
			for _, w := range want {
				if !slices.Contains(names, w) {
					t.Errorf("%s?%s has no index %s (indexes: %v)", typ, p.Code, w, names)
				}
			}
		}
	}
	for _, code := range []string{"insurer", "patient", "created", "status", "use", "provider", "identifier",
		"encounter", "coverage"} {
		if reg.Lookup("Claim", code) == nil {
			t.Errorf("Claim has no search parameter %s", code)
		}
	}
	for _, code := range []string{"request", "patient", "insurer", "outcome", "created"} {
		if reg.Lookup("ClaimResponse", code) == nil {
			t.Errorf("ClaimResponse has no search parameter %s", code)
		}
	}
}
