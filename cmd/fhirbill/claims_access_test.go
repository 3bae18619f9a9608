package main

import (
	"bytes"
	"context"
	"crypto/elliptic"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/MicahParks/jwkset"

	"github.com/fhirbill/fhirbill/fhir/rest"
	"github.com/fhirbill/fhirbill/fhir/rest/resttest"
	"github.com/fhirbill/fhirbill/fhir/search"
	"github.com/fhirbill/fhirbill/fhir/smart"
	"github.com/fhirbill/fhirbill/fhir/store"
)

// twoPatientsBilled starts the billing server with SMART auth on, two
// patients (p1 with Coverage cov1, p2 with cov2, both Medicare), each
// with an office visit (e1, e2) billed and claimed by a full-power
// client. It returns the server and a token maker: client, scopes and
// patient in context. The client "other-payer" is an insurer's, mapped
// to Organization/other.
func twoPatientsBilled(t *testing.T) (*resttest.Server, func(client, scope, patient string) []string) {
	t.Helper()
	jwk, err := jwkset.NewJWKFromKey(&genKey(t, elliptic.P256()).PublicKey,
		jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: "k1", USE: jwkset.UseSig}})
	if err != nil {
		t.Fatal(err)
	}
	jwks, err := json.Marshal(jwkset.JWKSMarshal{Keys: []jwkset.JWKMarshal{jwk.Marshal()}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	var auth *smart.Server
	srv := billingServerWith(t, func(base string, st *store.Store, reg *search.Registry) rest.Config {
		auth, err = smart.New(ctx, smart.Config{Base: base, Replay: st, Registry: reg, Clients: []smart.Client{
			{ID: "other-payer", JWKS: jwks, Scope: "system/Claim.cruds system/ClaimResponse.cruds", Insurer: "other"},
		}})
		if err != nil {
			t.Fatalf("smart.New: %v", err)
		}
		return rest.Config{Base: base, Authorizer: auth, Security: auth.Security()}
	})
	as := func(client, scope, patient string) []string {
		tok, err := auth.IssueToken(context.Background(), smart.TokenRequest{Subject: client, Scope: scope, Patient: patient})
		if err != nil {
			t.Fatal(err)
		}
		return []string{"Authorization", "Bearer " + tok}
	}
	admin := as("biller", "system/*.*", "")
	var cov1 string
	for _, r := range billingFixtures {
		if strings.Contains(r, `"id":"cov1"`) {
			cov1 = r
		}
	}
	fixtures := append([]string{}, billingFixtures...)
	fixtures = append(fixtures, `{"resourceType":"Patient","id":"p2","name":[{"family":"Chen"}],"birthDate":"1951-01-01"}`,
		strings.NewReplacer(`"id":"cov1"`, `"id":"cov2"`, "Patient/p1", "Patient/p2").Replace(cov1))
	fixtures = append(fixtures, officeVisit("e1", "2025-03-10", true)...)
	for _, r := range officeVisit("e2", "2025-03-11", false) {
		fixtures = append(fixtures, strings.ReplaceAll(r, "Patient/p1", "Patient/p2"))
	}
	for _, r := range fixtures {
		var head struct{ ResourceType, ID string }
		decode(t, []byte(r), &head)
		if res := srv.Do("PUT", "/"+head.ResourceType+"/"+head.ID, []byte(r), admin...); res.Status != 201 {
			t.Fatalf("PUT %s/%s: %d %s", head.ResourceType, head.ID, res.Status, res.Body)
		}
	}
	for _, p := range []string{"/Encounter/e1/$bill", "/Encounter/e1/$claim", "/Encounter/e2/$bill", "/Encounter/e2/$claim"} {
		if res := srv.Do("POST", p, nil, admin...); res.Status != 200 {
			t.Fatalf("%s: %d %s", p, res.Status, res.Body)
		}
	}
	return srv, as
}

// TestSubmit_WithinCallerAccess is F1: $submit keys a Claim by its first
// identifier across every stored Claim, so a patient's token posting its
// own Claim under the identifier of another patient's replaced that
// patient's Claim. The Claim found must be within the caller's access
// (else the caller cannot take its identifier: 403, naming nothing of
// it), and what $submit stores must be too.
func TestSubmit_WithinCallerAccess(t *testing.T) {
	srv, as := twoPatientsBilled(t)
	admin := as("biller", "system/*.*", "")
	p1 := as("app", "launch/patient patient/*.cruds", "p1")

	mine := srv.Do("GET", "/Claim/e1-claim-cov1", nil, p1...)
	if mine.Status != 200 {
		t.Fatalf("p1 reads its Claim: %d %s", mine.Status, mine.Body)
	}
	claimOfP2 := func() map[string]any {
		t.Helper()
		res := srv.Do("GET", "/Claim/e2-claim-cov2", nil, admin...)
		if res.Status != 200 {
			t.Fatalf("Claim/e2-claim-cov2: %d %s", res.Status, res.Body)
		}
		return res.JSON()
	}

	t.Run("IdentifierOfOtherPatientsClaim", func(t *testing.T) {
		hijack := strings.Replace(string(mine.Body), `"value":"e1-claim-cov1"`, `"value":"e2-claim-cov2"`, 1)
		res := srv.Do("POST", "/Claim/$submit", []byte(hijack), p1...)
		if res.Status != 403 {
			t.Fatalf("got %d, want 403: %s", res.Status, res.Body)
		}
		if strings.Contains(string(res.Body), "e2") {
			t.Errorf("the refusal tells of the Claim it protects: %s", res.Body)
		}
		c := claimOfP2()
		if field(c, "meta", "versionId") != "1" || field(c, "patient", "reference") != "Patient/p2" {
			t.Errorf("p2's Claim after the refused $submit: version %v patient %v, want 1 and Patient/p2",
				field(c, "meta", "versionId"), field(c, "patient", "reference"))
		}
		if res := srv.Do("GET", "/ClaimResponse/e2-claim-cov2-response", nil, admin...); res.Status != 404 {
			t.Errorf("a ClaimResponse for p2's Claim: got %d, want 404", res.Status)
		}
	})

	t.Run("ClaimOfOtherPatient", func(t *testing.T) {
		other := strings.NewReplacer(`"value":"e1-claim-cov1"`, `"value":"PCN-p2"`, "Patient/p1", "Patient/p2").Replace(string(mine.Body))
		if res := srv.Do("POST", "/Claim/$submit", []byte(other), p1...); res.Status != 403 {
			t.Fatalf("got %d, want 403: %s", res.Status, res.Body)
		}
		res := srv.Do("GET", "/Claim?identifier=https://fhirbill.dev/fhir/sid/claim|PCN-p2&_summary=count", nil, admin...)
		if !strings.Contains(string(res.Body), `"total":0`) {
			t.Errorf("a Claim naming p2 was stored: %s", res.Body)
		}
	})

	t.Run("OtherInsurer", func(t *testing.T) {
		payer := as("other-payer", "system/Claim.cruds system/ClaimResponse.cruds", "")
		if res := srv.Do("POST", "/Claim/$submit", mine.Body, payer...); res.Status != 403 {
			t.Fatalf("got %d, want 403: %s", res.Status, res.Body)
		}
		c := srv.Do("GET", "/Claim/e1-claim-cov1", nil, admin...).JSON()
		if field(c, "meta", "versionId") != "1" || field(c, "insurer", "reference") != "Organization/medicare" {
			t.Errorf("p1's Claim after the other insurer's $submit: version %v insurer %v",
				field(c, "meta", "versionId"), field(c, "insurer", "reference"))
		}
	})

	// Submitting, billing, issuing and posting a payer's answer are
	// staff's, EHRs' and payers' work: a patient's app may not, even on
	// its own records and whatever its scopes say
	// (rest.Operation.NotForPatients); another's is not known.
	t.Run("OwnAndOtherOperations", func(t *testing.T) {
		if res := srv.Do("POST", "/Claim/$submit", mine.Body, p1...); res.Status != 403 {
			t.Errorf("p1 submits its own Claim: got %d, want 403: %.300s", res.Status, res.Body)
		}
		for path, want := range map[string]int{
			"/Encounter/e1/$claim": 403, "/Encounter/e1/$bill": 403, "/Claim/e1-claim-cov1/$remit": 403,
			"/Invoice/e1-patient/$issue": 403, "/Invoice/e1-patient/$cancel": 403,
			"/Encounter/e2/$claim": 404, "/Encounter/e2/$bill": 404, "/Claim/e2-claim-cov2/$remit": 404,
			"/Invoice/e2-patient/$issue": 404, "/Invoice/e2-patient/$cancel": 404,
		} {
			if res := srv.Do("POST", path, nil, p1...); res.Status != want {
				t.Errorf("%s by p1: got %d, want %d: %.300s", path, res.Status, want, res.Body)
			}
		}
	})
}

// TestPatientApp_BillingRecordsReadOnly: a patient's app reads its bills
// and never changes billing's records (ChargeItem, Invoice, Account,
// Claim, ClaimResponse), whatever its scopes say: each write is a 403
// with an OperationOutcome, and nothing is stored. Before, a token with
// launch/patient and patient/*.cruds PUT its own Invoice/e1-patient with
// every price component 0 (200, stored: staff's $issue and $claim then
// billed 0.00) and wrote a fake entry into the plan year's accumulator
// Account, so that the next visit found the deductible met.
func TestPatientApp_BillingRecordsReadOnly(t *testing.T) {
	srv, as := twoPatientsBilled(t)
	admin := as("biller", "system/*.*", "")
	p1 := as("app", "launch/patient patient/*.cruds", "p1")
	get := func(path string) []byte {
		t.Helper()
		res := srv.Do("GET", path, nil, admin...)
		if res.Status != 200 {
			t.Fatalf("GET %s: %d %s", path, res.Status, res.Body)
		}
		return res.Body
	}
	invoice := get("/Invoice/e1-patient")
	account := get("/Account/accum-cov1-20250101")
	claim := get("/Claim/e1-claim-cov1")
	zeroed := regexp.MustCompile(`"value":[0-9.]+}`).ReplaceAll(invoice, []byte(`"value":0.00}`))
	// A fake Invoice's entry that spends the whole deductible of 100.00.
	fakeEntry := bytes.Replace(account, []byte(`"extension":[`), []byte(`"extension":[`+
		`{"url":"https://fhirbill.dev/fhir/StructureDefinition/accumulator","extension":[`+
		`{"url":"invoice","valueReference":{"reference":"Invoice/fake"}},`+
		`{"url":"deductible","valueMoney":{"value":100.00,"currency":"USD"}},`+
		`{"url":"outOfPocket","valueMoney":{"value":100.00,"currency":"USD"}}]},`), 1)
	if bytes.Equal(zeroed, invoice) || bytes.Equal(fakeEntry, account) {
		t.Fatalf("the fixtures did not change:\n%s\n%s", invoice, account)
	}
	chargeItem := `{"resourceType":"ChargeItem","status":"billable","subject":{"reference":"Patient/p1"},
	  "code":{"coding":[{"system":"http://www.ama-assn.org/go/cpt","code":"99213"}]}}`
	response := `{"resourceType":"ClaimResponse","id":"mine","status":"active","use":"claim","outcome":"queued",
	  "type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/claim-type","code":"professional"}]},
	  "patient":{"reference":"Patient/p1"},"created":"2025-03-12","insurer":{"reference":"Organization/medicare"}}`
	tx := `{"resourceType":"Bundle","type":"transaction","entry":[{"resource":` + string(zeroed) +
		`,"request":{"method":"PUT","url":"Invoice/e1-patient"}}]}`

	for _, c := range []struct {
		name, method, path string
		body               []byte
	}{
		{"ZeroedInvoice", "PUT", "/Invoice/e1-patient", zeroed},
		{"DeleteInvoice", "DELETE", "/Invoice/e1-patient", nil},
		{"InvoiceInTransaction", "POST", "/", []byte(tx)},
		{"FakeAccumulatorEntry", "PUT", "/Account/accum-cov1-20250101", fakeEntry},
		{"DeleteAccumulator", "DELETE", "/Account/accum-cov1-20250101", nil},
		{"NewAccumulator", "PUT", "/Account/accum-cov1-20260101",
			bytes.ReplaceAll(account, []byte("accum-cov1-20250101"), []byte("accum-cov1-20260101"))},
		{"CreateChargeItem", "POST", "/ChargeItem", []byte(chargeItem)},
		{"CancelClaim", "PUT", "/Claim/e1-claim-cov1",
			bytes.Replace(claim, []byte(`"status":"active"`), []byte(`"status":"cancelled"`), 1)},
		{"CreateClaimResponse", "PUT", "/ClaimResponse/mine", []byte(response)},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := srv.Do(c.method, c.path, c.body, append(p1, "Content-Type", "application/fhir+json")...)
			if res.Status != 403 || !bytes.Contains(res.Body, []byte(`"code":"forbidden"`)) ||
				!bytes.Contains(res.Body, []byte("read-only to an app launched for a patient")) {
				t.Errorf("got %d %.300s, want 403 with a forbidden issue saying the type is read-only", res.Status, res.Body)
			}
		})
	}

	for path, was := range map[string][]byte{
		"/Invoice/e1-patient": invoice, "/Account/accum-cov1-20250101": account, "/Claim/e1-claim-cov1": claim,
	} {
		if got := get(path); !bytes.Equal(got, was) {
			t.Errorf("%s changed after the refused writes:\n%s", path, got)
		}
	}
	for _, path := range []string{"/Account/accum-cov1-20260101", "/ClaimResponse/mine"} {
		if res := srv.Do("GET", path, nil, admin...); res.Status != 404 {
			t.Errorf("GET %s after the refused create: got %d, want 404", path, res.Status)
		}
	}
	// Nor may staff write the zeroed Invoice: an Invoice billing made
	// changes only through billing, draft included
	// (TestInvoiceWrite_BilledOnlyThroughBilling).
	res := srv.Do("PUT", "/Invoice/e1-patient", zeroed, append(admin, "Content-Type", "application/fhir+json")...)
	if res.Status != 409 || !bytes.Contains(res.Body, []byte(`"expression":["Invoice"]`)) {
		t.Errorf("staff PUT of the zeroed Invoice: got %d %.300s, want 409 naming the Invoice", res.Status, res.Body)
	}
	// The app still reads the bill.
	if res := srv.Do("GET", "/Invoice/e1-patient", nil, p1...); res.Status != 200 {
		t.Errorf("p1 reads its Invoice: got %d, want 200", res.Status)
	}
}
