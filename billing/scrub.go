package billing

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/shopspring/decimal"

	"github.com/fhirbill/fhirbill/fhir/resource"

	cpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/codes_go_proto"
	dtpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	claimpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/claim_go_proto"
	covpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/coverage_go_proto"
	orgpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/organization_go_proto"
	practpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/practitioner_go_proto"
	rolepb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/practitioner_role_go_proto"
)

// Edit is one claim edit a Claim fails: what a payer's front end would
// refuse it for.
type Edit struct {
	// Code is the edit, a code of [SystemClaimEdit] (EditNPIInvalid, ...).
	Code string

	// Expression is the FHIRPath of the element at fault, indexes from 0:
	// "Claim.item[1].diagnosisSequence[0]".
	Expression string

	// Message says what is wrong in a biller's words. It names lines,
	// positions and references, never a patient's data.
	Message string

	// ItemSequence is the sequence of the Claim item at fault; 0 for the
	// Claim as a whole.
	ItemSequence uint32
}

// Issue is e as an OperationOutcome issue of severity error.
func (e Edit) Issue() resource.Issue {
	code := resource.IssueValue
	switch e.Code {
	case EditProvider, EditInsurer, EditInsurance, EditNPIMissing, EditPointerMissing,
		EditRendering, EditDiagnosisCode, EditPatient:
		code = resource.IssueRequired
	case EditModifierConflict, EditCoverage, EditDiagnosisCount, EditPointerCount,
		EditServiceDate, EditTotal, EditClaimType:
		code = issueBusinessRule
	case EditDiagnosisFormat, EditProcedureCode, EditModifierFormat, EditPlaceOfService,
		EditCurrency:
		code = resource.IssueCodeInvalid
	}
	return resource.Issue{Severity: resource.SeverityError, Code: code,
		Expression: []string{e.Expression}, Diagnostics: e.Message}
}

// EditIssues turns edits into OperationOutcome issues.
func EditIssues(edits []Edit) []resource.Issue {
	out := make([]resource.Issue, len(edits))
	for i, e := range edits {
		out[i] = e.Issue()
	}
	return out
}

// ClaimRefs are the resources a Claim references that the scrubber reads,
// keyed "Type/id": the patient, the billing provider (Organization,
// Practitioner or PractitionerRole), the insurer, the care team's
// providers and the Coverages. A reference missing from it is one the
// server does not have.
type ClaimRefs map[string]*resource.Resource

// Scrub runs the edits of a professional claim and returns those c fails,
// in the order of the Claim's elements. A Claim that fails none may leave
// draft. The edits:
//
//   - the Claim is professional, names a patient on the server, its
//     billing provider, its insurer and at least one insurance whose
//     Coverage is on the server, active, the patient's (its beneficiary),
//     paid by the insurer and in force on every date of service;
//   - every amount (unit prices, nets, the total) is in currency, or
//     names none, not below zero, and in whole cents;
//   - the billing provider and each line's rendering provider (the care
//     team member the line names) have an NPI, ten digits with a valid
//     check digit ([ValidNPI]);
//   - each diagnosis is an ICD-10-CM code of ICD-10-CM form, at most 12;
//   - each line has a CPT or HCPCS Level II code of that code's form,
//     modifiers of two letters or digits that do not contradict each
//     other (26 with TC; 50 with a quantity above one), one to four
//     diagnosis pointers that each name a diagnosis of the Claim, a
//     quantity above zero, a date of service inside the billable period,
//     a CMS place of service, and a net equal to quantity times unit
//     price; the total is the sum of the nets.
//
// A category of ICD-10-CM (R07) is not told from a billable code (R07.9):
// fhirbill has no ICD-10-CM code list.
func Scrub(c *claimpb.Claim, refs ClaimRefs, currency string) []Edit {
	s := &scrubber{c: c, refs: refs, currency: currency}
	s.header()
	s.providers()
	s.insurance()
	s.diagnoses()
	for i, it := range c.GetItem() {
		s.item(i, it)
	}
	s.total()
	return s.edits
}

type scrubber struct {
	c        *claimpb.Claim
	refs     ClaimRefs
	currency string
	edits    []Edit
}

func (s *scrubber) add(item uint32, code, expr, format string, args ...any) {
	s.edits = append(s.edits, Edit{Code: code, Expression: expr, ItemSequence: item,
		Message: fmt.Sprintf(format, args...)})
}

// header checks the claim type and that the insurer is named.
func (s *scrubber) header() {
	if !hasCode(s.c.GetType(), SystemClaimType, "professional") {
		s.add(0, EditClaimType, "Claim.type",
			"the claim is not a professional claim (claim-type professional): these edits are for professional claims")
	}
	if refString(s.c.GetInsurer()) == "" {
		s.add(0, EditInsurer, "Claim.insurer", "the claim does not name the insurer it is sent to")
	}
	if p := refString(s.c.GetPatient()); refID(s.c.GetPatient(), "Patient") == "" {
		s.add(0, EditPatient, "Claim.patient", "the claim does not name its patient, a Patient")
	} else if _, ok := s.refs[p]; !ok {
		s.add(0, EditPatient, "Claim.patient", "the claim's patient %s is not on this server", p)
	}
}

// currencyOf checks that the amount at expr is in the scrubber's
// currency, or names none (an 837P names none: its amounts are dollars).
func (s *scrubber) currencyOf(item uint32, m *dtpb.Money, expr string) {
	if c := m.GetCurrency(); c != nil && c.GetValue() != s.currency {
		s.add(item, EditCurrency, expr+".currency",
			"the amount is in another currency than the claims of this server, %s", s.currency)
	}
}

// providers checks the billing provider's NPI and the care team's.
func (s *scrubber) providers() {
	p := s.c.GetProvider()
	if refString(p) == "" && p.GetIdentifier() == nil {
		s.add(0, EditProvider, "Claim.provider", "the claim does not name its billing provider")
	} else {
		s.npi(0, p, "Claim.provider", "billing provider")
	}
	for i, m := range s.c.GetCareTeam() {
		s.npi(0, m.GetProvider(), fmt.Sprintf("Claim.careTeam[%d].provider", i),
			"care team member "+strconv.Itoa(int(m.GetSequence().GetValue())))
	}
}

// npi checks that the provider ref names has a valid NPI: on the
// reference's identifier, else on the resource referenced.
func (s *scrubber) npi(item uint32, ref *dtpb.Reference, expr, who string) {
	npi, found := "", false
	if id := ref.GetIdentifier(); id.GetSystem().GetValue() == SystemNPI {
		npi, found = id.GetValue().GetValue(), true
	} else if r := refString(ref); r != "" {
		res, ok := s.refs[r]
		if !ok {
			s.add(item, EditNPIMissing, expr, "the %s %s is not on this server, so its NPI cannot be checked",
				who, r)
			return
		}
		npi, found = npiOf(res)
	}
	switch {
	case !found:
		s.add(item, EditNPIMissing, expr, "the %s has no NPI (an identifier with system %s)", who, SystemNPI)
	case !ValidNPI(npi):
		s.add(item, EditNPIInvalid, expr,
			"the %s's NPI is not valid: an NPI is 10 digits whose last is the Luhn check digit "+
				"of 80840 and the first 9", who)
	}
}

// npiOf returns the NPI among r's identifiers.
func npiOf(r *resource.Resource) (string, bool) {
	var ids []*dtpb.Identifier
	switch m := r.Proto().(type) {
	case *orgpb.Organization:
		ids = m.GetIdentifier()
	case *practpb.Practitioner:
		ids = m.GetIdentifier()
	case *rolepb.PractitionerRole:
		ids = m.GetIdentifier()
	}
	for _, id := range ids {
		if id.GetSystem().GetValue() == SystemNPI {
			return id.GetValue().GetValue(), true
		}
	}
	return "", false
}

// insurance checks that each Coverage exists, is active, is paid by the
// insurer and is in force on every date of service.
func (s *scrubber) insurance() {
	ins := s.c.GetInsurance()
	if len(ins) == 0 {
		s.add(0, EditInsurance, "Claim.insurance", "the claim names no insurance (Coverage)")
		return
	}
	insurer := refString(s.c.GetInsurer())
	for i, in := range ins {
		expr := fmt.Sprintf("Claim.insurance[%d].coverage", i)
		ref := refString(in.GetCoverage())
		r, ok := s.refs[ref]
		if ref == "" || !ok {
			s.add(0, EditCoverage, expr, "insurance %d names no Coverage this server has", i+1)
			continue
		}
		cov, ok := r.Proto().(*covpb.Coverage)
		if !ok {
			s.add(0, EditCoverage, expr, "insurance %d does not name a Coverage", i+1)
			continue
		}
		if cov.GetStatus().GetValue() != cpb.FinancialResourceStatusCode_ACTIVE {
			s.add(0, EditCoverage, expr, "%s is not active", ref)
			continue
		}
		patient := refID(s.c.GetPatient(), "Patient")
		if patient != "" && refID(cov.GetBeneficiary(), "Patient") != patient {
			s.add(0, EditCoverage, expr,
				"%s is not the claim's patient's: its beneficiary is another patient", ref)
		}
		if in.GetFocal().GetValue() && insurer != "" && !paidBy(cov, insurer, s.refs[insurer]) {
			s.add(0, EditCoverage, expr, "%s is not paid by the claim's insurer %s", ref, insurer)
		}
		for j, it := range s.c.GetItem() {
			if d, ok := servicedDay(it); ok && !covers(cov.GetPeriod(), d) {
				s.add(it.GetSequence().GetValue(), EditCoverage, expr,
					"%s is not in force on the date of service of line %d (Claim.item[%d])",
					ref, it.GetSequence().GetValue(), j)
			}
		}
	}
}

// paidBy reports whether a payor of cov is the insurer: by reference, or
// by an identifier the insurer's Organization (org, when on the server)
// carries.
func paidBy(cov *covpb.Coverage, insurer string, org *resource.Resource) bool {
	for _, p := range cov.GetPayor() {
		if refString(p) == insurer {
			return true
		}
		if refString(p) != "" || p.GetIdentifier() == nil || org == nil {
			continue
		}
		o, ok := org.Proto().(*orgpb.Organization)
		if !ok {
			continue
		}
		want := p.GetIdentifier()
		for _, id := range o.GetIdentifier() {
			if id.GetSystem().GetValue() == want.GetSystem().GetValue() &&
				id.GetValue().GetValue() == want.GetValue().GetValue() {
				return true
			}
		}
	}
	return false
}

// diagnoses checks each diagnosis code and their number.
func (s *scrubber) diagnoses() {
	for i, d := range s.c.GetDiagnosis() {
		expr := fmt.Sprintf("Claim.diagnosis[%d].diagnosisCodeableConcept", i)
		c := codingIn(d.GetDiagnosis().GetCodeableConcept(), SystemICD10CM)
		switch {
		case c == nil:
			s.add(0, EditDiagnosisCode, expr, "diagnosis %d has no ICD-10-CM code (system %s)",
				d.GetSequence().GetValue(), SystemICD10CM)
		// TODO(#6): ICD-10-CM categories (R07) are not told from billable codes (R07.9): fhirbill has no ICD-10-CM code list.
		case !ValidICD10CM(c.GetCode().GetValue()):
			s.add(0, EditDiagnosisFormat, expr,
				"diagnosis %d is not an ICD-10-CM code: a letter, a digit, a letter or digit, "+
					"then a dot and up to 4 more (R07.9)",
				d.GetSequence().GetValue())
		}
	}
	if n := len(s.c.GetDiagnosis()); n > maxDiagnoses {
		s.add(0, EditDiagnosisCount, fmt.Sprintf("Claim.diagnosis[%d]", maxDiagnoses),
			"the claim has %d diagnoses; a professional claim carries at most %d", n, maxDiagnoses)
	}
}

// item runs the line edits of item i.
func (s *scrubber) item(i int, it *claimpb.Claim_Item) {
	seq := it.GetSequence().GetValue()
	at := fmt.Sprintf("Claim.item[%d]", i)
	line := fmt.Sprintf("line %d", seq)

	s.procedureCode(seq, at, line, it.GetProductOrService())
	s.modifiers(seq, at, line, it)
	s.pointers(seq, at, line, it)
	s.rendering(seq, at, line, it)

	qty, ok := parseDecimal(it.GetQuantity().GetValue())
	if !ok || qty.Sign() <= 0 {
		s.add(seq, EditQuantity, at+".quantity", "%s needs a quantity above zero", line)
	}

	d, okDate := servicedDay(it)
	switch {
	case !okDate:
		s.add(seq, EditServiceDate, at+".servicedDate", "%s has no date of service", line)
	case s.c.GetBillablePeriod().GetStart() == nil:
		s.add(seq, EditServiceDate, "Claim.billablePeriod", "the claim has no billable period to date %s in", line)
	case !covers(s.c.GetBillablePeriod(), d):
		s.add(seq, EditServiceDate, at+".servicedDate",
			"the date of service of %s is outside the billable period", line)
	}

	pos := codingIn(it.GetLocation().GetCodeableConcept(), SystemPOS)
	if pos == nil || !posForm(pos.GetCode().GetValue()) {
		s.add(seq, EditPlaceOfService, at+".locationCodeableConcept",
			"%s needs a place of service: a two-digit CMS place-of-service code (system %s)", line, SystemPOS)
	}

	s.currencyOf(seq, it.GetUnitPrice(), at+".unitPrice")
	s.currencyOf(seq, it.GetNet(), at+".net")
	net, okNet := amountOf(it.GetNet())
	price, okPrice := amountOf(it.GetUnitPrice())
	// An amount below zero or in fractions of a cent is the fault to
	// name; its product with the quantity proves nothing more.
	badPrice := okPrice && !s.charge(seq, price, at+".unitPrice", "the unit price of "+line)
	badNet := okNet && !s.charge(seq, net, at+".net", "the net of "+line)
	switch {
	case !okNet:
		s.add(seq, EditAmount, at+".net", "%s has no net amount", line)
	case badPrice || badNet:
	case okPrice && ok && qty.Sign() > 0 && !RoundCent(qty.Mul(price).Mul(factorOf(it))).Equal(net):
		s.add(seq, EditAmount, at+".net", "the net of %s is not its quantity times its unit price", line)
	}
}

// charge checks that the amount v at expr (what names it) is a charge: not
// below zero (a credit is not claimed, it is an adjustment of the payer's)
// and in whole cents, the minor unit of the claim's currency, as billing
// rounds every line and as an 837P carries amounts. It reports whether v
// passed.
func (s *scrubber) charge(item uint32, v decimal.Decimal, expr, what string) bool {
	ok := true
	if v.Sign() < 0 {
		s.add(item, EditNegativeAmount, expr, "%s is below zero: a claim charges, it credits nothing", what)
		ok = false
	}
	if !v.Equal(RoundCent(v)) {
		s.add(item, EditAmountPrecision, expr, "%s has fractions of a cent: amounts are in whole cents, "+
			"at most two decimals", what)
		ok = false
	}
	return ok
}

func (s *scrubber) procedureCode(seq uint32, at, line string, cc *dtpb.CodeableConcept) {
	expr := at + ".productOrService"
	if c := codingIn(cc, SystemCPT); c != nil {
		if !ValidCPT(c.GetCode().GetValue()) {
			s.add(seq, EditProcedureCode, expr,
				"the code of %s is not a CPT code: 5 digits, or 4 digits and F, T or U", line)
		}
		return
	}
	if c := codingIn(cc, SystemHCPCS); c != nil {
		if !ValidHCPCS(c.GetCode().GetValue()) {
			s.add(seq, EditProcedureCode, expr,
				"the code of %s is not a HCPCS Level II code: a letter and 4 digits", line)
		}
		return
	}
	s.add(seq, EditProcedureCode, expr, "%s has no CPT or HCPCS code", line)
}

func (s *scrubber) modifiers(seq uint32, at, line string, it *claimpb.Claim_Item) {
	has := map[string]int{}
	for j, m := range it.GetModifier() {
		code := ""
		if cs := m.GetCoding(); len(cs) > 0 {
			code = strings.ToUpper(cs[0].GetCode().GetValue())
		}
		if !modifierForm.MatchString(code) {
			s.add(seq, EditModifierFormat, fmt.Sprintf("%s.modifier[%d]", at, j),
				"modifier %d of %s is not a modifier: two letters or digits", j+1, line)
			continue
		}
		if _, dup := has[code]; !dup {
			has[code] = j
		}
	}
	if j, ok := has["TC"]; ok {
		if _, ok26 := has["26"]; ok26 {
			s.add(seq, EditModifierConflict, fmt.Sprintf("%s.modifier[%d]", at, j),
				"%s has modifiers 26 (professional component) and TC (technical component): bill the "+
					"global service without either, or the two components on two lines", line)
		}
	}
	if j, ok := has["50"]; ok {
		if q, okq := parseDecimal(it.GetQuantity().GetValue()); okq && q.GreaterThan(decimal.NewFromInt(1)) {
			s.add(seq, EditModifierConflict, fmt.Sprintf("%s.modifier[%d]", at, j),
				"%s is bilateral (modifier 50) with a quantity above 1: a bilateral procedure is "+
					"billed once, quantity 1", line)
		}
	}
}

func (s *scrubber) pointers(seq uint32, at, line string, it *claimpb.Claim_Item) {
	ptrs := it.GetDiagnosisSequence()
	if len(ptrs) == 0 {
		s.add(seq, EditPointerMissing, at+".diagnosisSequence", "%s points at no diagnosis", line)
		return
	}
	known := map[uint32]bool{}
	for _, d := range s.c.GetDiagnosis() {
		known[d.GetSequence().GetValue()] = true
	}
	for j, p := range ptrs {
		if !known[p.GetValue()] {
			s.add(seq, EditPointerUnknown, fmt.Sprintf("%s.diagnosisSequence[%d]", at, j),
				"%s points at diagnosis %d, which the claim does not have", line, p.GetValue())
		}
	}
	if len(ptrs) > maxPointers {
		s.add(seq, EditPointerCount, fmt.Sprintf("%s.diagnosisSequence[%d]", at, maxPointers),
			"%s points at %d diagnoses; a line points at most at %d", line, len(ptrs), maxPointers)
	}
}

// rendering checks that the line names a care team member: its rendering
// provider, whose NPI providers() checks.
func (s *scrubber) rendering(seq uint32, at, line string, it *claimpb.Claim_Item) {
	ct := it.GetCareTeamSequence()
	if len(ct) == 0 {
		s.add(seq, EditRendering, at+".careTeamSequence", "%s names no rendering provider (care team member)", line)
		return
	}
	for j, p := range ct {
		found := false
		for _, m := range s.c.GetCareTeam() {
			found = found || m.GetSequence().GetValue() == p.GetValue()
		}
		if !found {
			s.add(seq, EditRendering, fmt.Sprintf("%s.careTeamSequence[%d]", at, j),
				"%s names care team member %d, which the claim does not have", line, p.GetValue())
		}
	}
}

// total checks that the total is the sum of the nets.
func (s *scrubber) total() {
	sum := decimal.Zero
	for _, it := range s.c.GetItem() {
		if n, ok := amountOf(it.GetNet()); ok {
			sum = sum.Add(n)
		}
	}
	s.currencyOf(0, s.c.GetTotal(), "Claim.total")
	t, ok := amountOf(s.c.GetTotal())
	if ok {
		s.charge(0, t, "Claim.total", "the claim's total")
	}
	if !ok || !t.Equal(sum) {
		s.add(0, EditTotal, "Claim.total", "the claim's total is not the sum of its lines' nets")
	}
}

// servicedDay is the item's servicedDate, or its servicedPeriod's start.
func servicedDay(it *claimpb.Claim_Item) (day, bool) {
	if d := it.GetServiced().GetDate(); d != nil {
		return dateDay(d), true
	}
	return dayOf(it.GetServiced().GetPeriod().GetStart())
}

// posForm: a CMS place of service is two digits.
func posForm(code string) bool {
	return len(code) == 2 && code[0] >= '0' && code[0] <= '9' && code[1] >= '0' && code[1] <= '9'
}

func amountOf(m *dtpb.Money) (decimal.Decimal, bool) {
	if m == nil || m.GetValue() == nil {
		return decimal.Zero, false
	}
	return parseDecimal(m.GetValue())
}

func parseDecimal(d *dtpb.Decimal) (decimal.Decimal, bool) {
	if d == nil {
		return decimal.Zero, false
	}
	v, err := ParseMoney(d.GetValue())
	return v, err == nil
}

func factorOf(it *claimpb.Claim_Item) decimal.Decimal {
	if f, ok := parseDecimal(it.GetFactor()); ok {
		return f
	}
	return decimal.NewFromInt(1)
}
