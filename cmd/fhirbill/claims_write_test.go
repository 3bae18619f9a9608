package main

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/fhirbill/fhirbill/fhir/resource"
	"github.com/fhirbill/fhirbill/fhir/rest"
	"github.com/fhirbill/fhirbill/fhir/rest/resttest"
)

// TestClaimWrite_OnlyThroughOperations: a Claim fhirbill's claim
// operations stored, and the ClaimResponse at the id they give its
// answer, change only through $claim, $submit and $remit: a client's
// PUT or DELETE of either is a 409 naming it, and changes nothing. A
// PUT of the same content is no change and passes. Before, a plain PUT
// cancelled the adjudicated Claim with a total of 1.00 (200), and
// DELETE of the Claim and of its ClaimResponse answered 204, which then
// wedged billing.
func TestClaimWrite_OnlyThroughOperations(t *testing.T) {
	srv := billedVisit(t)
	claimOf(t, srv, "e1", nil)
	claim := mustDo(t, srv, 200, "GET", "/Claim/e1-claim-cov1", nil).Body
	queued := mustDo(t, srv, 200, "POST", "/Claim/$submit", claim).Body

	// The payer answers by PUT instead of $remit: the Invoice would not
	// follow.
	complete := strings.Replace(string(queued), `"outcome":"queued"`, `"outcome":"complete"`, 1)
	refused(t, srv, "PUT", "/ClaimResponse/e1-claim-cov1-response", []byte(complete), "ClaimResponse")

	answer, err := os.ReadFile("../../testdata/billing/remittance.json")
	if err != nil {
		t.Fatal(err)
	}
	remit(t, srv, string(answer))
	claim = mustDo(t, srv, 200, "GET", "/Claim/e1-claim-cov1", nil).Body
	response := mustDo(t, srv, 200, "GET", "/ClaimResponse/e1-claim-cov1-response", nil).Body

	cancelled := bytes.Replace(claim, []byte(`"status":"active"`), []byte(`"status":"cancelled"`), 1)
	cancelled = bytes.Replace(cancelled, []byte(`"total":{"currency":"USD","value":210.00}`),
		[]byte(`"total":{"currency":"USD","value":1.00}`), 1)
	if bytes.Equal(cancelled, claim) {
		t.Fatalf("the Claim lacks status active or total 210.00: %s", claim)
	}
	refused(t, srv, "PUT", "/Claim/e1-claim-cov1", cancelled, "Claim")
	refused(t, srv, "DELETE", "/Claim/e1-claim-cov1", nil, "Claim")
	denied := bytes.Replace(response, []byte(`"outcome":"complete"`), []byte(`"outcome":"error"`), 1)
	refused(t, srv, "PUT", "/ClaimResponse/e1-claim-cov1-response", denied, "ClaimResponse")
	refused(t, srv, "DELETE", "/ClaimResponse/e1-claim-cov1-response", nil, "ClaimResponse")

	if got := mustDo(t, srv, 200, "GET", "/Claim/e1-claim-cov1", nil).Body; !bytes.Equal(got, claim) {
		t.Errorf("a refused write changed the Claim:\n%s", got)
	}
	if got := mustDo(t, srv, 200, "GET", "/ClaimResponse/e1-claim-cov1-response", nil).Body; !bytes.Equal(got, response) {
		t.Errorf("a refused write changed the ClaimResponse:\n%s", got)
	}
	mustDo(t, srv, 200, "PUT", "/Claim/e1-claim-cov1", claim)

	// A Claim and a ClaimResponse a client stored stay its own.
	own := `{"resourceType":"Claim","id":"mine","status":"active","use":"claim","created":"2025-03-12",
	  "type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/claim-type","code":"professional"}]},
	  "patient":{"reference":"Patient/p1"},"provider":{"reference":"Organization/clinic"},
	  "priority":{"coding":[{"code":"normal"}]},
	  "insurance":[{"sequence":1,"focal":true,"coverage":{"reference":"Coverage/cov1"}}]}`
	mustDo(t, srv, 201, "PUT", "/Claim/mine", []byte(own))
	mustDo(t, srv, 200, "PUT", "/Claim/mine", []byte(strings.Replace(own, `"active"`, `"cancelled"`, 1)))
	mustDo(t, srv, 204, "DELETE", "/Claim/mine", nil)
}

// refused sends a write that must be refused with 409 naming expression.
func refused(t *testing.T, srv *resttest.Server, method, path string, body []byte, expression string) {
	t.Helper()
	res := mustDo(t, srv, 409, method, path, body)
	if !bytes.Contains(res.Body, []byte(`"expression":["`+expression+`"]`)) {
		t.Errorf("%s %s: %s, want the refusal to name %s", method, path, res.Body, expression)
	}
}

// TestClaimResponseCreate_GoesToRemit: a payer's adjudication of a Claim
// fhirbill submitted, created as a plain ClaimResponse (POST, PUT at a
// new id, or in a transaction), is refused with 422 naming
// ClaimResponse.request and $remit, and stores nothing: accepted, it would
// have changed no Invoice. The same answer posted to $remit then applies.
// An answer not adjudicated (queued), and one to a client's own Claim,
// are stored as sent.
func TestClaimResponseCreate_GoesToRemit(t *testing.T) {
	srv := billedVisit(t)
	claimOf(t, srv, "e1", nil)
	claim := mustDo(t, srv, 200, "GET", "/Claim/e1-claim-cov1", nil).Body
	mustDo(t, srv, 200, "POST", "/Claim/$submit", claim)
	invoice := mustDo(t, srv, 200, "GET", "/Invoice/e1-patient", nil).Body
	answer, err := os.ReadFile("../../testdata/billing/remittance.json")
	if err != nil {
		t.Fatal(err)
	}

	toRemit := func(method, path string, body []byte) {
		t.Helper()
		res := mustDo(t, srv, 422, method, path, body)
		if !bytes.Contains(res.Body, []byte(`"expression":["ClaimResponse.request"]`)) ||
			!bytes.Contains(res.Body, []byte("Claim/e1-claim-cov1/$remit")) {
			t.Errorf("%s %s: %s, want a refusal naming ClaimResponse.request and $remit", method, path, res.Body)
		}
	}
	toRemit("POST", "/ClaimResponse", answer)
	withID := bytes.Replace(answer, []byte(`"resourceType": "ClaimResponse",`),
		[]byte(`"resourceType": "ClaimResponse", "id": "payer-icn-123",`), 1)
	toRemit("PUT", "/ClaimResponse/payer-icn-123", withID)
	tx := `{"resourceType":"Bundle","type":"transaction","entry":[{"resource":` + string(answer) +
		`,"request":{"method":"POST","url":"ClaimResponse"}}]}`
	mustDo(t, srv, 422, "POST", "/", []byte(tx))

	if got := mustDo(t, srv, 200, "GET", "/Invoice/e1-patient", nil).Body; !bytes.Equal(got, invoice) {
		t.Errorf("a refused ClaimResponse changed the Invoice:\n%s", got)
	}
	// Only the queued answer $submit stored.
	if res := mustDo(t, srv, 200, "GET", "/ClaimResponse?_summary=count", nil); !bytes.Contains(res.Body, []byte(`"total":1`)) {
		t.Errorf("ClaimResponses after the refusals: %s, want 1", res.Body)
	}

	queued := bytes.Replace(answer, []byte(`"outcome": "complete"`), []byte(`"outcome": "queued"`), 1)
	mustDo(t, srv, 201, "POST", "/ClaimResponse", queued)
	own := bytes.Replace(answer, []byte(`"Claim/e1-claim-cov1"`), []byte(`"Claim/mine"`), 1)
	mustDo(t, srv, 201, "POST", "/ClaimResponse", own)

	// The refusals stored no version: the payer's decision is version 2,
	// over the estimate $bill stored as version 1.
	inv := remit(t, srv, string(answer))
	if inv["id"] != "e1-patient" || field(inv, "meta", "versionId") != "2" {
		t.Errorf("$remit after the refusals: Invoice/%v version %v, want e1-patient version 2",
			inv["id"], field(inv, "meta", "versionId"))
	}
}

// TestClaimResponseCreate_ReservedIDs: no client creates a ClaimResponse
// at an id fhirbill could give a Claim's answer, "<claim>-response" or
// the hashed "cr-..." (billing responseID), whatever its request names
// and whether or not that Claim exists yet: each is a 409 naming the
// ClaimResponse, in every interaction. Before, a PUT of
// ClaimResponse/e1-claim-cov1-response naming another Claim, or none,
// was stored (201) before $submit, and $submit then answered with it and
// the Claim and its Invoice were frozen.
func TestClaimResponseCreate_ReservedIDs(t *testing.T) {
	srv := billedVisit(t)
	claimOf(t, srv, "e1", nil)
	answer := func(id, request string) []byte {
		s := `{"resourceType":"ClaimResponse","id":"` + id + `","status":"active","use":"claim","outcome":"queued",
		  "type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/claim-type","code":"professional"}]},
		  "patient":{"reference":"Patient/p1"},"created":"2025-03-12","insurer":{"reference":"Organization/medicare"}`
		if request != "" {
			s += `,"request":{"reference":"` + request + `"}`
		}
		return []byte(s + `}`)
	}
	const hashed = "cr-0123456789abcdef0123456789abcdef"

	for _, c := range []struct {
		name, method, path string
		body               []byte
		expression         string
	}{
		{"NamingAnotherClaim", "PUT", "/ClaimResponse/e1-claim-cov1-response",
			answer("e1-claim-cov1-response", "Claim/other"), "ClaimResponse"},
		{"NamingNone", "PUT", "/ClaimResponse/e1-claim-cov1-response", answer("e1-claim-cov1-response", ""),
			"ClaimResponse"},
		{"NamingItsClaim", "PUT", "/ClaimResponse/e1-claim-cov1-response",
			answer("e1-claim-cov1-response", "Claim/e1-claim-cov1"), "ClaimResponse"},
		{"ClaimNotBuiltYet", "PUT", "/ClaimResponse/e9-claim-cov1-response",
			answer("e9-claim-cov1-response", ""), "ClaimResponse"},
		{"RevisionClaim", "PUT", "/ClaimResponse/e1-claim-cov1-r2-response",
			answer("e1-claim-cov1-r2-response", ""), "ClaimResponse"},
		{"Hashed", "PUT", "/ClaimResponse/" + hashed, answer(hashed, "Claim/other"), "ClaimResponse"},
		{"ConditionalCreate", "PUT", "/ClaimResponse?_id=e1-claim-cov1-response",
			answer("e1-claim-cov1-response", ""), "ClaimResponse"},
		{"InTransaction", "POST", "/", []byte(`{"resourceType":"Bundle","type":"transaction","entry":[{"resource":` +
			string(answer("e1-claim-cov1-response", "")) +
			`,"request":{"method":"PUT","url":"ClaimResponse/e1-claim-cov1-response"}}]}`),
			`Bundle.entry[0]","ClaimResponse`},
	} {
		t.Run(c.name, func(t *testing.T) {
			refused(t, srv, c.method, c.path, c.body, c.expression)
		})
	}
	for _, id := range []string{
		"e1-claim-cov1-response", "e9-claim-cov1-response", "e1-claim-cov1-r2-response", hashed,
	} {
		mustDo(t, srv, 404, "GET", "/ClaimResponse/"+id, nil)
	}

	// At any other id a client's ClaimResponse is stored as sent.
	mustDo(t, srv, 201, "PUT", "/ClaimResponse/payer-note", answer("payer-note", "Claim/e1-claim-cov1"))
	mustDo(t, srv, 201, "PUT", "/ClaimResponse/response", answer("response", ""))

	// $submit answers with its own queued ClaimResponse.
	claim := mustDo(t, srv, 200, "GET", "/Claim/e1-claim-cov1", nil).Body
	cr := mustDo(t, srv, 200, "POST", "/Claim/$submit", claim).JSON()
	if cr["id"] != "e1-claim-cov1-response" || cr["outcome"] != "queued" ||
		field(cr, "request", "reference") != "Claim/e1-claim-cov1" {
		t.Errorf("$submit answered ClaimResponse/%v outcome %v request %v, "+
			"want e1-claim-cov1-response queued, Claim/e1-claim-cov1",
			cr["id"], cr["outcome"], field(cr, "request", "reference"))
	}
}

// TestSubmit_ForeignAnswerAtResponseID: a ClaimResponse stored at a
// Claim's responseID before clients were refused that id, answering
// another Claim or none, is not taken for the Claim's answer: $submit and
// $claim answer 409 naming the ClaimResponse and store nothing, until a
// client deletes it (it is not fhirbill's, so it may). Before, $submit
// answered with the forged ClaimResponse, and $claim left the Claim "as
// submitted".
func TestSubmit_ForeignAnswerAtResponseID(t *testing.T) {
	srv := billedVisit(t)
	claimOf(t, srv, "e1", nil)
	forged, err := resource.Parse([]byte(`{"resourceType":"ClaimResponse","id":"e1-claim-cov1-response",
	  "status":"active","use":"claim","outcome":"complete","created":"2025-03-12",
	  "type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/claim-type","code":"professional"}]},
	  "patient":{"reference":"Patient/p1"},"insurer":{"reference":"Organization/medicare"},
	  "request":{"reference":"Claim/other"}}`))
	if err != nil {
		t.Fatal(err)
	}
	// Stored past the API's checks, as data from before the rule.
	if _, err := srv.API.Commit(t.Context(), []rest.Change{{Resource: forged}}); err != nil {
		t.Fatal(err)
	}
	claim := mustDo(t, srv, 200, "GET", "/Claim/e1-claim-cov1", nil).Body

	refused(t, srv, "POST", "/Claim/$submit", claim, "ClaimResponse")
	refused(t, srv, "POST", "/Encounter/e1/$claim", nil, "ClaimResponse")
	if got := mustDo(t, srv, 200, "GET", "/Claim/e1-claim-cov1", nil).Body; !bytes.Equal(got, claim) {
		t.Errorf("a refused $submit changed the Claim:\n%s", got)
	}

	mustDo(t, srv, 204, "DELETE", "/ClaimResponse/e1-claim-cov1-response", nil)
	cr := mustDo(t, srv, 200, "POST", "/Claim/$submit", claim).JSON()
	if cr["outcome"] != "queued" || field(cr, "request", "reference") != "Claim/e1-claim-cov1" {
		t.Errorf("$submit after the delete: outcome %v request %v, want queued, Claim/e1-claim-cov1",
			cr["outcome"], field(cr, "request", "reference"))
	}
}

// TestClaimCreate_ReservedForOperations: the ids fhirbill's claim
// operations give Claims (billing claimID's "<encounter>-claim-<coverage>",
// its revisions' "-r2" on, and the hashed "claim-...") are not a
// client's to create (409 naming the Claim), and the identifier system
// naming those Claims
// (https://fhirbill.dev/fhir/sid/claim) is not a client's to give (422
// naming the identifier), on create or update. Before, a Claim PUT at
// Claim/e1-claim-cov1 ahead of $claim was taken for the one $claim built
// ($claim kept its created date, 2020-01-01), and a client's Claim/a1
// carrying the identifier of e1's Claim was the one $submit found by it,
// so the real Claim and its answer went to a1 (ClaimResponse/a1-response).
func TestClaimCreate_ReservedForOperations(t *testing.T) {
	srv := billedVisit(t)
	const own = `{"resourceType":"Claim","id":"ID","status":"active","use":"claim","created":"2020-01-01",
	  "identifier":[{"system":"SYSTEM","value":"e1-claim-cov1"}],
	  "type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/claim-type","code":"professional"}]},
	  "patient":{"reference":"Patient/p1"},"provider":{"reference":"Organization/clinic"},
	  "insurer":{"reference":"Organization/medicare"},"priority":{"coding":[{"code":"normal"}]},
	  "insurance":[{"sequence":1,"focal":true,"coverage":{"reference":"Coverage/cov1"}}]}`
	claim := func(id, system string) []byte {
		return []byte(strings.NewReplacer("ID", id, "SYSTEM", system).Replace(own))
	}
	const fhirbill, mine = "https://fhirbill.dev/fhir/sid/claim", "urn:oid:2.16.840.1.113883.3.999"
	const hashed = "claim-0123456789abcdef0123456789abcdef"

	for _, c := range []struct {
		name, method, path string
		body               []byte
		status             int
		expression         string
	}{
		{"AtClaimID", "PUT", "/Claim/e1-claim-cov1", claim("e1-claim-cov1", mine), 409, "Claim"},
		{"AtRevisionClaimID", "PUT", "/Claim/e1-claim-cov1-r2", claim("e1-claim-cov1-r2", mine), 409, "Claim"},
		{"AtHashedID", "PUT", "/Claim/" + hashed, claim(hashed, mine), 409, "Claim"},
		{"AtClaimIDInTransaction", "POST", "/", []byte(`{"resourceType":"Bundle","type":"transaction","entry":[` +
			`{"resource":` + string(claim("e1-claim-cov1", mine)) +
			`,"request":{"method":"PUT","url":"Claim/e1-claim-cov1"}}]}`), 409, `Bundle.entry[0]","Claim`},
		{"FhirbillIdentifier", "PUT", "/Claim/a1", claim("a1", fhirbill), 422, "Claim.identifier[0]"},
		{"FhirbillIdentifierByPost", "POST", "/Claim", claim("a1", fhirbill), 422, "Claim.identifier[0]"},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := mustDo(t, srv, c.status, c.method, c.path, c.body)
			if !bytes.Contains(res.Body, []byte(`"expression":["`+c.expression+`"]`)) {
				t.Errorf("%s, want the refusal to name %s", res.Body, c.expression)
			}
		})
	}
	for _, id := range []string{"e1-claim-cov1", "e1-claim-cov1-r2", hashed, "a1"} {
		mustDo(t, srv, 404, "GET", "/Claim/"+id, nil)
	}

	// A client's Claim under its own identifier is its own, but does not
	// take fhirbill's.
	mustDo(t, srv, 201, "PUT", "/Claim/a1", claim("a1", mine))
	res := mustDo(t, srv, 422, "PUT", "/Claim/a1", claim("a1", fhirbill))
	if !bytes.Contains(res.Body, []byte(`"expression":["Claim.identifier[0]"]`)) {
		t.Errorf("%s, want the refusal to name Claim.identifier[0]", res.Body)
	}

	// $claim builds its own Claim, dated today, and $submit stores it
	// there, with its answer.
	built := claimOf(t, srv, "e1", nil).Claim
	if built["created"] == "2020-01-01" || field(built, "meta", "versionId") != "1" {
		t.Errorf("$claim built created %v version %v, want a new Claim", built["created"], field(built, "meta", "versionId"))
	}
	cr := mustDo(t, srv, 200, "POST", "/Claim/$submit", mustJSON(t, built)).JSON()
	if cr["id"] != "e1-claim-cov1-response" || field(cr, "request", "reference") != "Claim/e1-claim-cov1" {
		t.Errorf("$submit answered ClaimResponse/%v for %v, want e1-claim-cov1-response for Claim/e1-claim-cov1",
			cr["id"], field(cr, "request", "reference"))
	}
}

// TestClaimResponseCreate_RequestForms: a payer's adjudication naming a
// Claim at an id fhirbill's claim operations give is refused (422 naming
// ClaimResponse.request and the Claim's $remit) however request names
// it, an absolute URL (R4 references.html allows one; this server's own
// base), with a version, or by an identifier of
// https://fhirbill.dev/fhir/sid/claim, and whether or not that Claim
// exists: the check reads nothing. Before, the absolute URL and the
// identifier were stored (201) and changed no Invoice, and a Claim id
// not on the server was stored while an existing one was refused, which
// told a caller that could not read the Claim that it existed.
func TestClaimResponseCreate_RequestForms(t *testing.T) {
	srv, answer := submittedVisit(t)
	request := func(r string) []byte {
		return bytes.Replace(answer, []byte(`{
  "reference": "Claim/e1-claim-cov1"
 }`), []byte(r), 1)
	}
	if bytes.Equal(request("x"), answer) {
		t.Fatalf("remittance.json names its Claim otherwise: %s", answer)
	}
	for _, c := range []struct{ name, claim, request string }{
		{"AbsoluteURL", "e1-claim-cov1", `{"reference":"` + srv.Base + `/Claim/e1-claim-cov1"}`},
		{"AbsoluteURLWithVersion", "e1-claim-cov1", `{"reference":"` + srv.Base + `/Claim/e1-claim-cov1/_history/1"}`},
		{"OtherServersURL", "e1-claim-cov1", `{"reference":"http://localhost:18383/fhir/Claim/e1-claim-cov1"}`},
		{"RelativeWithVersion", "e1-claim-cov1", `{"reference":"Claim/e1-claim-cov1/_history/1"}`},
		{"Identifier", "e1-claim-cov1",
			`{"identifier":{"system":"https://fhirbill.dev/fhir/sid/claim","value":"e1-claim-cov1"}}`},
		{"ClaimNotOnServer", "e9-claim-cov1", `{"reference":"Claim/e9-claim-cov1"}`},
		{"RevisionNotOnServer", "e1-claim-cov1-r2", `{"reference":"Claim/e1-claim-cov1-r2"}`},
		{"HashedNotOnServer", "claim-0123456789abcdef0123456789abcdef",
			`{"reference":"Claim/claim-0123456789abcdef0123456789abcdef"}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := mustDo(t, srv, 422, "POST", "/ClaimResponse", request(c.request))
			if !bytes.Contains(res.Body, []byte(`"expression":["ClaimResponse.request"]`)) ||
				!bytes.Contains(res.Body, []byte("Claim/"+c.claim+"/$remit")) {
				t.Errorf("%s, want a refusal naming ClaimResponse.request and Claim/%s/$remit", res.Body, c.claim)
			}
		})
	}
	// Only $submit's queued answer is stored.
	if res := mustDo(t, srv, 200, "GET", "/ClaimResponse?_summary=count", nil); !bytes.Contains(res.Body,
		[]byte(`"total":1`)) {
		t.Errorf("ClaimResponses after the refusals: %s, want 1", res.Body)
	}
	// A payer's own Claim, by URL or by its identifier system, is not
	// fhirbill's.
	mustDo(t, srv, 201, "POST", "/ClaimResponse", request(`{"reference":"http://payer.example/fhir/Claim/77"}`))
	mustDo(t, srv, 201, "POST", "/ClaimResponse",
		request(`{"identifier":{"system":"urn:oid:2.16.840.1.113883.3.999","value":"e1-claim-cov1"}}`))
}

// TestClaimResponseCreate_NoOracle: an insurer that cannot read
// Claim/e1-claim-cov1 (another payer's: GET answers 404) gets the same
// answer creating an adjudication naming it as naming a Claim id not on
// the server, e9-claim-cov1. Before, the first was a 422 "was submitted
// by fhirbill" and the second a 201: the refusal told the caller the
// hidden Claim existed.
func TestClaimResponseCreate_NoOracle(t *testing.T) {
	srv, as := twoPatientsBilled(t)
	payer := as("other-payer", "system/Claim.cruds system/ClaimResponse.cruds", "")
	if res := srv.Do("GET", "/Claim/e1-claim-cov1", nil, payer...); res.Status != 404 {
		t.Fatalf("GET Claim/e1-claim-cov1 as another payer: %d, want 404", res.Status)
	}
	var got [2]*resttest.Response
	for i, claim := range []string{"e1-claim-cov1", "e9-claim-cov1"} {
		body := `{"resourceType":"ClaimResponse","status":"active","use":"claim","outcome":"complete",
		  "type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/claim-type","code":"professional"}]},
		  "patient":{"reference":"Patient/p1"},"created":"2025-04-02","insurer":{"reference":"Organization/other"},
		  "request":{"reference":"Claim/` + claim + `"}}`
		got[i] = srv.Do("POST", "/ClaimResponse", []byte(body), append(payer, "Content-Type", "application/fhir+json")...)
	}
	if got[0].Status != got[1].Status || got[0].Status != 422 {
		t.Errorf("an existing hidden Claim: %d %s; one not on the server: %d %s; want the same 422",
			got[0].Status, got[0].Body, got[1].Status, got[1].Body)
	}
}
