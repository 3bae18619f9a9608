package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// This file seeds, through the API and before the timed run, what the
// operations of the mix need. Every id starts with the run's prefix, so
// that runs on one store never collide:
//
//   - a provider (the clinic) and three insurers; the first is the payer of
//     every Coverage, with a fee-list contract (billing/doc.go), so that no
//     Medicare fee schedule needs importing;
//   - the clinic's price list (99213 at 150.00, 93000 at 60.00) and the
//     payer's fees (95.00 and 20.00);
//   - per Patient: a Coverage (deductible 50.00, then 20 % coinsurance), a
//     draft Invoice to read, Claims naming each insurer in turn, and a
//     finished office visit (99213 with an ECG, 93000; two Conditions),
//     which the server bills as it stores it, so that bill re-bills it;
//   - the fresh visits bill-new finishes, one per bill-new request, stored
//     in progress (so not billed yet), in plan years apart from the
//     re-billed ones, so that the accumulators they update are not the
//     ones re-billing reads.

// TODO(#7): a run's resources stay in the store; billed Invoices cannot be deleted, so there is no clean-up.

// seedChunk is how many fresh visits go in one transaction Bundle.
const seedChunk = 50

// claimsPerPatient is how many Claims each Patient has, naming the
// insurers in turn.
const claimsPerPatient = 3

// fixture is what the run reads and bills.
type fixture struct {
	run      string       // the prefix of every id
	patients []string     // Patient ids
	insurers []string     // Organization ids that Claims name as insurer
	billed   []string     // finished Encounters, billed as they are seeded
	fresh    []freshVisit // Encounters in progress, never billed

	nextFresh atomic.Int64

	mu       sync.RWMutex
	invoices []string // seeded and created Invoices, to read
}

// freshVisit is an Encounter seeded in progress, for bill-new to finish.
type freshVisit struct {
	id, patient string
	day         time.Time
}

// newRunID is a run prefix: "lg" and 8 hex digits.
func newRunID() string { return fmt.Sprintf("lg%08x", rand.Uint32()) }

// newFixture names the resources of a run of patients Patients and fresh
// visits to bill.
func newFixture(run string, patients, fresh int) *fixture {
	f := &fixture{run: run}
	for i := range patients {
		f.patients = append(f.patients, fmt.Sprintf("%s-p%d", run, i+1))
		f.invoices = append(f.invoices, fmt.Sprintf("%s-inv%d", run, i+1))
		f.billed = append(f.billed, fmt.Sprintf("%s-e%d", run, i+1))
	}
	for i := range 3 {
		f.insurers = append(f.insurers, fmt.Sprintf("%s-ins%d", run, i+1))
	}
	// Visit n is of Patient n mod P, in plan year 2021 + (n / P) mod 4,
	// so that the Patients' accumulators share the work.
	for n := range fresh {
		day := time.Date(2021+(n/patients)%4, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, (n/(4*patients))%360)
		f.fresh = append(f.fresh, freshVisit{fmt.Sprintf("%s-f%d", run, n+1), f.patients[n%patients], day})
	}
	return f
}

// takeFresh hands out the next never-billed Encounter; false when none
// is left.
func (f *fixture) takeFresh() (freshVisit, bool) {
	n := f.nextFresh.Add(1) - 1
	if n >= int64(len(f.fresh)) {
		return freshVisit{}, false
	}
	return f.fresh[n], true
}

// addInvoice remembers an Invoice created during the run, for reads.
func (f *fixture) addInvoice(id string) {
	f.mu.Lock()
	f.invoices = append(f.invoices, id)
	f.mu.Unlock()
}

// anyInvoice is a seeded or created Invoice, chosen at random.
func (f *fixture) anyInvoice() string {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.invoices[rand.IntN(len(f.invoices))]
}

// bundleEntry is an entry of a transaction Bundle: a resource to PUT.
type bundleEntry struct {
	Resource json.RawMessage `json:"resource"`
	Request  struct {
		Method string `json:"method"`
		URL    string `json:"url"`
	} `json:"request"`
}

// transaction collects resources, each given as FHIR JSON, for one
// transaction Bundle.
type transaction []bundleEntry

func (t *transaction) put(typ, id, body string) {
	e := bundleEntry{Resource: json.RawMessage(body)}
	e.Request.Method, e.Request.URL = http.MethodPut, typ+"/"+id
	*t = append(*t, e)
}

func (t transaction) bundle() ([]byte, error) {
	return json.Marshal(map[string]any{"resourceType": "Bundle", "type": "transaction", "entry": t})
}

// Code systems of the seed.
const (
	sysCPT     = "http://www.ama-assn.org/go/cpt"
	sysICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
)

// base is the first transaction: organizations, prices, and per Patient
// a Coverage, an Invoice, Claims and the visit billed once.
func (f *fixture) base() transaction {
	var t transaction
	r := f.run
	org := `{"resourceType":"Organization","id":"%[1]s","name":"Loadgen %[1]s"}`
	t.put("Organization", r+"-clinic", fmt.Sprintf(org, r+"-clinic"))
	for _, ins := range f.insurers {
		t.put("Organization", ins, fmt.Sprintf(org, ins))
	}
	payer := f.insurers[0]
	for _, p := range []struct{ code, gross, fee string }{{"99213", "150.00", "95.00"}, {"93000", "60.00", "20.00"}} {
		t.put("ChargeItemDefinition", r+"-price-"+p.code, fmt.Sprintf(`{"resourceType":"ChargeItemDefinition",
		  "id":"%[1]s-price-%[2]s","url":"https://loadgen.fhirbill.dev/%[1]s/price/%[2]s","status":"active",
		  "code":{"coding":[{"system":"%[3]s","code":"%[2]s"}]},
		  "propertyGroup":[{"priceComponent":[{"type":"base","amount":{"value":%[4]s,"currency":"USD"}}]}]}`,
			r, p.code, sysCPT, p.gross))
		t.put("ChargeItemDefinition", r+"-fee-"+p.code, fmt.Sprintf(`{"resourceType":"ChargeItemDefinition",
		  "id":"%[1]s-fee-%[2]s","url":"https://loadgen.fhirbill.dev/%[1]s/fee/%[2]s","status":"active",
		  "code":{"coding":[{"system":"%[3]s","code":"%[2]s"}]},
		  "useContext":[{"code":{"system":"http://terminology.hl7.org/CodeSystem/usage-context-type","code":"program"},
		                 "valueReference":{"reference":"Organization/%[5]s"}}],
		  "propertyGroup":[{"priceComponent":[{"type":"base","amount":{"value":%[4]s,"currency":"USD"}}]}]}`,
			r, p.code, sysCPT, p.fee, payer))
	}
	t.put("ChargeItemDefinition", r+"-contract", fmt.Sprintf(`{"resourceType":"ChargeItemDefinition",
	  "id":"%[1]s-contract","url":"https://loadgen.fhirbill.dev/%[1]s/contract","status":"active",
	  "extension":[{"url":"https://fhirbill.dev/fhir/StructureDefinition/allowed-rule","valueCode":"fee-list"}],
	  "useContext":[{"code":{"system":"http://terminology.hl7.org/CodeSystem/usage-context-type","code":"program"},
	                 "valueReference":{"reference":"Organization/%[2]s"}}]}`, r, payer))

	for i, p := range f.patients {
		cov := fmt.Sprintf("%s-cov%d", r, i+1)
		t.put("Patient", p, fmt.Sprintf(`{"resourceType":"Patient","id":"%s",
		  "name":[{"family":"Loadgen","given":["P%d"]}],"birthDate":"1960-01-01"}`, p, i+1))
		t.put("Coverage", cov, fmt.Sprintf(`{"resourceType":"Coverage","id":"%s","status":"active",
		  "beneficiary":{"reference":"Patient/%s"},"payor":[{"reference":"Organization/%s"}],
		  "period":{"start":"2020-01-01"},
		  "costToBeneficiary":[
		    {"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/coverage-copay-type","code":"deductible"}]},
		     "valueMoney":{"value":50.00,"currency":"USD"}},
		    {"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/coverage-copay-type","code":"copaypct"}]},
		     "valueQuantity":{"value":20}}]}`, cov, p, payer))
		t.put("Invoice", f.invoices[i], invoiceJSON(f.invoices[i], p, r+"-clinic"))
		for k := range claimsPerPatient {
			id := fmt.Sprintf("%s-claim%d-%d", r, i+1, k+1)
			t.put("Claim", id, fmt.Sprintf(`{"resourceType":"Claim","id":"%s","status":"active",
			  "type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/claim-type","code":"professional"}]},
			  "use":"claim","patient":{"reference":"Patient/%s"},"created":"2020-06-01",
			  "insurer":{"reference":"Organization/%s"},"provider":{"reference":"Organization/%s-clinic"},
			  "priority":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/processpriority","code":"normal"}]},
			  "insurance":[{"sequence":1,"focal":true,"coverage":{"reference":"Coverage/%s"}}],
			  "total":{"value":210.00,"currency":"USD"}}`, id, p, f.insurers[k%len(f.insurers)], r, cov))
		}
		f.visit(&t, f.billed[i], p, time.Date(2020, 6, 1+i%28, 0, 0, 0, 0, time.UTC), "finished")
	}
	return t
}

// freshChunks are the transactions of the fresh visits, in progress,
// seedChunk a Bundle.
func (f *fixture) freshChunks() []transaction {
	var out []transaction
	for start := 0; start < len(f.fresh); start += seedChunk {
		var t transaction
		for _, v := range f.fresh[start:min(start+seedChunk, len(f.fresh))] {
			f.visit(&t, v.id, v.patient, v.day, "in-progress")
		}
		out = append(out, t)
	}
	return out
}

// visit adds a finished office visit (99213) on day with an ECG (93000)
// and two diagnoses.
func (f *fixture) visit(t *transaction, enc, patient string, day time.Time, status string) {
	d := day.Format(time.DateOnly)
	for _, dx := range []struct{ id, code string }{{enc + "-dx1", "R07.9"}, {enc + "-dx2", "I10"}} {
		t.put("Condition", dx.id, fmt.Sprintf(`{"resourceType":"Condition","id":"%s",
		  "subject":{"reference":"Patient/%s"},
		  "encounter":{"reference":"Encounter/%s"},"code":{"coding":[{"system":"%s","code":"%s"}]}}`,
			dx.id, patient, enc, sysICD10CM, dx.code))
	}
	t.put("Encounter", enc, f.encounterJSON(enc, patient, day, status))
	t.put("Procedure", enc+"-ecg", fmt.Sprintf(`{"resourceType":"Procedure","id":"%s-ecg","status":"completed",
	  "subject":{"reference":"Patient/%s"},"encounter":{"reference":"Encounter/%s"},
	  "code":{"coding":[{"system":"%s","code":"93000"}]},"performedDateTime":"%s"}`, enc, patient, enc, sysCPT, d))
}

// encounterJSON is an office visit (99213) on day in status, with its two
// diagnoses ranked.
func (f *fixture) encounterJSON(enc, patient string, day time.Time, status string) string {
	return fmt.Sprintf(`{"resourceType":"Encounter","id":"%[1]s","status":"%[6]s",
	  "class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB"},
	  "type":[{"coding":[{"system":"%[2]s","code":"99213"}]}],
	  "subject":{"reference":"Patient/%[3]s"},
	  "period":{"start":"%[4]sT09:00:00Z","end":"%[4]sT09:30:00Z"},
	  "serviceProvider":{"reference":"Organization/%[5]s-clinic"},
	  "diagnosis":[{"condition":{"reference":"Condition/%[1]s-dx1"},"rank":1},
	               {"condition":{"reference":"Condition/%[1]s-dx2"},"rank":2}]}`,
		enc, sysCPT, patient, day.Format(time.DateOnly), f.run, status)
}

// invoiceJSON is a draft Invoice as a client would make one by hand (id
// empty: for a create).
func invoiceJSON(id, patient, issuer string) string {
	idPart := ""
	if id != "" {
		idPart = fmt.Sprintf(`"id":"%s",`, id)
	}
	return fmt.Sprintf(`{"resourceType":"Invoice",%[1]s"status":"draft","date":"2025-03-10",
	  "subject":{"reference":"Patient/%[2]s"},"recipient":{"reference":"Patient/%[2]s"},
	  "issuer":{"reference":"Organization/%[3]s"},
	  "totalGross":{"value":150.00,"currency":"USD"},"totalNet":{"value":30.00,"currency":"USD"}}`,
		idPart, patient, issuer)
}

// seedReport says what seeding stored.
type seedReport struct {
	Patients int     `json:"patients"`
	Insurers int     `json:"insurers"`
	Claims   int     `json:"claims"`
	Invoices int     `json:"invoices"`
	Billed   int     `json:"encounters_billed"` // finished visits with an Invoice
	Fresh    int     `json:"encounters_fresh"`
	Seconds  float64 `json:"seconds"`
}

// seed stores the fixture, which the server bills as it stores the
// finished visits, bills those once more when bill (which re-bills them)
// is in the mix, else reads their Invoices, and reports what it did;
// progress goes to log.
func (l *loader) seed(ctx context.Context, rebill bool, log io.Writer) (*seedReport, error) {
	start := time.Now()
	f := l.fix
	chunks := append([]transaction{f.base()}, f.freshChunks()...)
	if len(f.fresh) > 0 {
		fmt.Fprintf(log, "loadgen: seeding %d fresh Encounters for bill-new (--fresh to change)\n", len(f.fresh))
	}
	for i, t := range chunks {
		body, err := t.bundle()
		if err != nil {
			return nil, fmt.Errorf("seed bundle: %w", err)
		}
		if _, err := l.expect(ctx, http.MethodPost, "", body, http.StatusOK); err != nil {
			return nil, fmt.Errorf("seed transaction %d of %d: %w", i+1, len(chunks), err)
		}
		if len(chunks) > 2 {
			fmt.Fprintf(log, "loadgen: seeded %d of %d transactions\n", i+1, len(chunks))
		}
	}
	sr := &seedReport{
		Patients: len(f.patients), Insurers: len(f.insurers), Claims: claimsPerPatient * len(f.patients),
		Invoices: len(f.invoices), Fresh: len(f.fresh),
	}
	// The server bills each finished visit as it stores it; with bill in
	// the mix, $bill makes sure, otherwise the Invoice says.
	for _, enc := range f.billed {
		if rebill {
			if _, err := l.expect(ctx, http.MethodPost, "/Encounter/"+enc+"/$bill", nil, http.StatusOK); err != nil {
				return nil, fmt.Errorf("bill %s once before the run: %w", enc, err)
			}
			sr.Billed++
			continue
		}
		status, err := l.expect(ctx, http.MethodGet, "/Invoice/"+enc+"-patient", nil,
			http.StatusOK, http.StatusNotFound)
		if err != nil {
			return nil, fmt.Errorf("read the Invoice of %s: %w", enc, err)
		}
		if status == http.StatusOK {
			sr.Billed++
		}
	}
	sr.Seconds = time.Since(start).Seconds()
	return sr, nil
}

// expect sends one request outside the measurement and checks that its
// status is one of want; it returns the status.
func (l *loader) expect(ctx context.Context, method, path string, body []byte, want ...int) (int, error) {
	req, err := l.request(ctx, method, path, body)
	if err != nil {
		return 0, err
	}
	resp, err := l.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, err
	}
	for _, w := range want {
		if resp.StatusCode == w {
			return w, nil
		}
	}
	return resp.StatusCode, &statusError{
		method: method, url: l.base + path, status: resp.StatusCode, detail: outcomeText(b),
	}
}

// statusError is an answer outside the measurement with a status other
// than the one expected.
type statusError struct {
	method, url string
	status      int
	detail      string // ": diagnostics" of the OperationOutcome, or ""
}

func (e *statusError) Error() string {
	return fmt.Sprintf("%s %s: status %d%s", e.method, e.url, e.status, e.detail)
}

// outcomeText is the diagnostics of the first issue of an
// OperationOutcome, as ": text", or "" when body is not one.
func outcomeText(body []byte) string {
	var oo struct {
		ResourceType string
		Issue        []struct{ Diagnostics string }
	}
	if json.Unmarshal(body, &oo) != nil || oo.ResourceType != "OperationOutcome" || len(oo.Issue) == 0 {
		return ""
	}
	d := oo.Issue[0].Diagnostics
	if len(d) > 300 {
		d = d[:300] + "..."
	}
	return ": " + strings.TrimSpace(d)
}
