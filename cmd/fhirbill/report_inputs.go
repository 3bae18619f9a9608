package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"

	"github.com/shopspring/decimal"

	"github.com/fhirbill/fhirbill/billing"
	"github.com/fhirbill/fhirbill/fhir/resource"
	"github.com/fhirbill/fhirbill/fhir/rest"

	cpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/codes_go_proto"
	accpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/account_go_proto"
	cipb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/charge_item_go_proto"
	covpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/coverage_go_proto"
	encpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/encounter_go_proto"
	invpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/invoice_go_proto"
	orgpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/organization_go_proto"
)

// This file reads the resources the report sums into small values.

// reportInputs are the store's Encounters, Invoices and ChargeItems as the
// report reads them.
type reportInputs struct {
	encounters  []reportEncounter
	invoices    map[string]*reportInvoice // by Encounter id: the revision that is not cancelled
	chargeItems []reportChargeItem
	byEncounter map[string][]reportChargeItem
}

type reportEncounter struct {
	id       string
	finished bool
}

type reportChargeItem struct {
	encounter, status, code, reason string
}

// reportInvoice is an Invoice's amounts: per line and in total, each
// price component by "type/code" (e.g. "base/submitted", "discount").
type reportInvoice struct {
	id, status, account string
	lines               []map[string]decimal.Decimal
	totals              map[string]decimal.Decimal
	gross, net          decimal.Decimal
}

// The price component keys billing writes (billing/invoice.go).
const (
	pcBase        = "base/submitted"
	pcDiscount    = "discount"
	pcInsurer     = "deduction/benefit"
	pcAllowed     = "informational/eligible"
	pcDeductible  = "informational/deductible"
	pcCopay       = "informational/copay"
	pcCoinsurance = "informational/coinsurance"
)

func readReportInputs(encs, invs, cis []*resource.Resource) (*reportInputs, error) {
	in := &reportInputs{invoices: map[string]*reportInvoice{}, byEncounter: map[string][]reportChargeItem{}}
	for _, r := range encs {
		e := r.Proto().(*encpb.Encounter)
		in.encounters = append(in.encounters, reportEncounter{id: r.ID(),
			finished: e.GetStatus().GetValue() == cpb.EncounterStatusCode_FINISHED})
	}
	for _, r := range invs {
		inv := r.Proto().(*invpb.Invoice)
		if inv.GetStatus().GetValue() == cpb.InvoiceStatusCode_CANCELLED {
			continue
		}
		enc := ""
		for _, id := range inv.GetIdentifier() {
			if id.GetSystem().GetValue() == billing.SystemEncounterID {
				enc = id.GetValue().GetValue()
			}
		}
		if enc == "" {
			continue // not an Invoice billing made
		}
		ri, err := readInvoice(inv)
		if err != nil {
			return nil, err
		}
		in.invoices[enc] = ri
	}
	for _, r := range cis {
		ci := r.Proto().(*cipb.ChargeItem)
		rc := reportChargeItem{
			encounter: strings.TrimPrefix(resource.ReferenceString(ci.GetContext()), "Encounter/"),
			status:    codeText(ci.GetStatus().GetValue().String()),
			code:      "not coded",
		}
		if cs := ci.GetCode().GetCoding(); len(cs) > 0 {
			rc.code = systemName(cs[0].GetSystem().GetValue()) + " " + cs[0].GetCode().GetValue()
		}
		if ns := ci.GetNote(); len(ns) > 0 {
			rc.reason = strings.TrimPrefix(ns[0].GetText().GetValue(), "Not billed: ")
		}
		if rc.status == "entered-in-error" {
			continue
		}
		in.chargeItems = append(in.chargeItems, rc)
		in.byEncounter[rc.encounter] = append(in.byEncounter[rc.encounter], rc)
	}
	sort.Slice(in.encounters, func(i, j int) bool { return in.encounters[i].id < in.encounters[j].id })
	return in, nil
}

func readInvoice(inv *invpb.Invoice) (*reportInvoice, error) {
	ri := &reportInvoice{
		id:      inv.GetId().GetValue(),
		status:  codeText(inv.GetStatus().GetValue().String()),
		account: strings.TrimPrefix(resource.ReferenceString(inv.GetAccount()), "Account/"),
		totals:  map[string]decimal.Decimal{},
	}
	var err error
	amount := func(v string) decimal.Decimal {
		d, e := decimal.NewFromString(v)
		if e != nil && err == nil {
			err = fmt.Errorf("Invoice/%s: an amount is not a decimal", ri.id)
		}
		return d
	}
	for _, li := range inv.GetLineItem() {
		m := map[string]decimal.Decimal{}
		for _, pc := range li.GetPriceComponent() {
			k := componentKey(pc)
			m[k] = m[k].Add(amount(pc.GetAmount().GetValue().GetValue()))
		}
		ri.lines = append(ri.lines, m)
	}
	for _, pc := range inv.GetTotalPriceComponent() {
		k := componentKey(pc)
		ri.totals[k] = ri.totals[k].Add(amount(pc.GetAmount().GetValue().GetValue()))
	}
	ri.gross = amount(inv.GetTotalGross().GetValue().GetValue())
	ri.net = amount(inv.GetTotalNet().GetValue().GetValue())
	return ri, err
}

func componentKey(pc *invpb.Invoice_LineItem_PriceComponent) string {
	k := codeText(pc.GetType().GetValue().String())
	if cs := pc.GetCode().GetCoding(); len(cs) > 0 {
		k += "/" + cs[0].GetCode().GetValue()
	}
	return k
}

// check lists what does not add up: each total price component against
// the sum of the lines' components, totalGross against the base amounts,
// totalNet against base - discount - deduction; and on each line the
// allowed amount against base - discount, and the patient's part against
// deductible + copay + coinsurance (self-pay lines owe the allowed amount
// with none of the three).
func (ri *reportInvoice) check() []string {
	var out []string
	sums := map[string]decimal.Decimal{}
	var gross, net decimal.Decimal
	for i, l := range ri.lines {
		for k, v := range l {
			sums[k] = sums[k].Add(v)
		}
		patient := l[pcBase].Sub(l[pcDiscount]).Sub(l[pcInsurer])
		gross, net = gross.Add(l[pcBase]), net.Add(patient)
		if !l[pcAllowed].Equal(l[pcBase].Sub(l[pcDiscount])) {
			out = append(out, fmt.Sprintf("line %d: allowed %s is not base - discount", i+1, money(l[pcAllowed])))
		}
		shares := l[pcDeductible].Add(l[pcCopay]).Add(l[pcCoinsurance])
		selfPay := ri.account == "" && shares.IsZero() && patient.Equal(l[pcAllowed])
		if !selfPay && !patient.Equal(shares) {
			out = append(out, fmt.Sprintf("line %d: the patient's %s is not deductible + copay + coinsurance %s",
				i+1, money(patient), money(shares)))
		}
	}
	keys := map[string]bool{}
	for k := range sums {
		keys[k] = true
	}
	for k := range ri.totals {
		keys[k] = true
	}
	var sorted []string
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	for _, k := range sorted {
		if !sums[k].Equal(ri.totals[k]) {
			out = append(out, fmt.Sprintf("total %s %s, lines sum to %s", k, money(ri.totals[k]), money(sums[k])))
		}
	}
	if !ri.gross.Equal(gross) {
		out = append(out, fmt.Sprintf("totalGross %s, lines' base amounts sum to %s", money(ri.gross), money(gross)))
	}
	if !ri.net.Equal(net) {
		out = append(out, fmt.Sprintf("totalNet %s, lines' base - discount - deduction sum to %s",
			money(ri.net), money(net)))
	}
	return out
}

// money prints an amount with its cents.
func money(d decimal.Decimal) string { return billing.FormatMoney(d) }

// amounts are the Invoice's amounts as one payer's totals.
func (ri *reportInvoice) amounts() *payerTotals {
	return &payerTotals{
		Invoices: 1, Lines: len(ri.lines), Gross: ri.gross, Discount: ri.totals[pcDiscount],
		Allowed: ri.totals[pcAllowed], Insurer: ri.totals[pcInsurer], Patient: ri.net,
	}
}

// payerNames labels the payer of an Invoice's accumulator Account: the
// Organization its Coverage's payor names (by reference, or by an
// identifier one Organization carries), as "name (Organization/id)".
type payerNames struct {
	api        *rest.Server
	byCoverage map[string]string
	byAccount  map[string]string
}

func (p *payerNames) of(ctx context.Context, account string) (string, error) {
	if account == "" {
		return selfPay, nil
	}
	if l, ok := p.byAccount[account]; ok {
		return l, nil
	}
	l := "unknown payer (Account/" + account + ")"
	r, _, err := p.api.ReadResource(ctx, "Account", account)
	switch {
	case err == nil:
		for _, c := range r.Proto().(*accpb.Account).GetCoverage() {
			if id, ok := strings.CutPrefix(resource.ReferenceString(c.GetCoverage()), "Coverage/"); ok {
				if l, err = p.ofCoverage(ctx, id); err != nil {
					return "", err
				}
				break
			}
		}
	case !errors.Is(err, resource.ErrNotFound) && !errors.Is(err, resource.ErrDeleted):
		return "", err
	}
	p.byAccount[account] = l
	return l, nil
}

func (p *payerNames) ofCoverage(ctx context.Context, id string) (string, error) {
	if l, ok := p.byCoverage[id]; ok {
		return l, nil
	}
	l := "unknown payer (Coverage/" + id + ")"
	r, _, err := p.api.ReadResource(ctx, "Coverage", id)
	if err != nil && !errors.Is(err, resource.ErrNotFound) && !errors.Is(err, resource.ErrDeleted) {
		return "", err
	}
	if err == nil {
		for _, py := range r.Proto().(*covpb.Coverage).GetPayor() {
			org, err := p.organization(ctx, resource.ReferenceString(py),
				py.GetIdentifier().GetSystem().GetValue(), py.GetIdentifier().GetValue().GetValue())
			if err != nil {
				return "", err
			}
			if org != nil {
				l = org.GetName().GetValue() + " (Organization/" + org.GetId().GetValue() + ")"
				break
			}
		}
	}
	p.byCoverage[id] = l
	return l, nil
}

// organization reads the Organization ref names, or the one carrying the
// identifier system|value; nil when there is none.
func (p *payerNames) organization(ctx context.Context, ref, system, value string) (*orgpb.Organization, error) {
	if id, ok := strings.CutPrefix(ref, "Organization/"); ok {
		r, _, err := p.api.ReadResource(ctx, "Organization", id)
		if errors.Is(err, resource.ErrNotFound) || errors.Is(err, resource.ErrDeleted) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		return r.Proto().(*orgpb.Organization), nil
	}
	if ref != "" || system == "" || value == "" {
		return nil, nil
	}
	rs, err := p.api.SearchResources(ctx, "Organization", url.Values{
		"identifier": {searchEscaper.Replace(system) + "|" + searchEscaper.Replace(value)}})
	if err != nil || len(rs) != 1 {
		return nil, err
	}
	return rs[0].Proto().(*orgpb.Organization), nil
}

// searchEscaper escapes the characters FHIR search gives a meaning in a
// value (https://hl7.org/fhir/R4/search.html#escaping).
var searchEscaper = strings.NewReplacer(`\`, `\\`, `,`, `\,`, `|`, `\|`, `$`, `\$`)

// systemName is a short name of a code system for the report.
func systemName(system string) string {
	switch system {
	case billing.SystemCPT:
		return "CPT"
	case billing.SystemHCPCS:
		return "HCPCS"
	case billing.SystemSNOMED:
		return "SNOMED CT"
	case billing.SystemICD10CM:
		return "ICD-10-CM"
	}
	return system
}

// codeText turns a proto enum name such as "NOT_BILLABLE" into the FHIR
// code "not-billable".
func codeText(enum string) string {
	return strings.ToLower(strings.ReplaceAll(enum, "_", "-"))
}
