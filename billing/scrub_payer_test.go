package billing_test

import (
	"strings"
	"testing"

	"github.com/fhirbill/fhirbill/billing"
	"github.com/fhirbill/fhirbill/fhir/resource"

	claimpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/claim_go_proto"
)

// TestScrub_NamedByIdentifier covers what a Claim names by identifier
// rather than by reference: a Coverage's payor (paid by the insurer when
// the insurer's Organization carries the identifier) and a rendering
// provider named by its NPI alone (a logical reference), which is not on
// the server.
func TestScrub_NamedByIdentifier(t *testing.T) {
	const (
		payor = `"payor":[{"reference":"Organization/medicare"}]`
		mcr   = `{"system":"https://payers.example/sid","value":"mcr"}`
		npi   = `{"system":"http://hl7.org/fhir/sid/us-npi","value":"1497758544"}`
	)
	byID := `"payor":[{"type":"Organization","identifier":` + mcr + `}]`
	insurer := `{"resourceType":"Organization","id":"medicare","identifier":[` + mcr + `]}`
	npiOnly := `"careTeam":[{"sequence":1,"provider":{"type":"Practitioner","identifier":` + npi + `}}]`
	for _, c := range []struct {
		name     string
		claim    []string // on cleanClaim, old then new
		payor    string
		insurer  string // the insurer's Organization; "" when not on the server
		wantCode string
	}{
		{name: "PayorByIdentifier", payor: byID, insurer: insurer},
		{name: "PayorByOtherIdentifier", payor: strings.Replace(byID, `"mcr"`, `"mcd"`, 1), insurer: insurer,
			wantCode: billing.EditCoverage},
		{name: "InsurerNotOnServer", payor: byID, wantCode: billing.EditCoverage},
		{name: "RenderingProviderByNPI", payor: payor,
			claim: []string{`"careTeam":[{"sequence":1,"provider":{"reference":"Practitioner/dr1"}}]`, npiOnly}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, err := resource.Parse([]byte(strings.NewReplacer(c.claim...).Replace(cleanClaim)))
			if err != nil {
				t.Fatal(err)
			}
			refs := claimRefs(t, payor, c.payor)
			if c.insurer != "" {
				org, err := resource.Parse([]byte(c.insurer))
				if err != nil {
					t.Fatal(err)
				}
				refs["Organization/medicare"] = org
			}
			edits := billing.Scrub(r.Proto().(*claimpb.Claim), refs, "USD")
			var got []string
			for _, e := range edits {
				got = append(got, e.Code)
			}
			if c.wantCode == "" && len(got) > 0 || c.wantCode != "" && (len(got) != 1 || got[0] != c.wantCode) {
				t.Errorf("edits %v (%v), want %q", got, edits, c.wantCode)
			}
		})
	}
}
