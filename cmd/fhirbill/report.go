package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/shopspring/decimal"

	"github.com/fhirbill/fhirbill/billing"
	"github.com/fhirbill/fhirbill/fhir/rest"
)

// reportCmd is `fhirbill report`: what billing made of a store.
type reportCmd struct {
	storeFlags
	Unbilled int `default:"50" help:"List at most this many of the finished Encounters not billed (0: all)."`
}

// Run reads the store and prints the report. It refuses a --data-dir that
// does not exist rather than make an empty store to report on.
func (c *reportCmd) Run(ctx context.Context, stdout io.Writer, logOut logOutput) error {
	if err := c.requireDataDir("report"); err != nil {
		return err
	}
	logger := newLogger(logOut, c.LogLevel)
	env, err := openAPI(ctx, c.storeFlags, logger)
	if err != nil {
		return err
	}
	defer env.close()
	rep, err := buildReport(ctx, env.api)
	if err != nil {
		return err
	}
	rep.Write(stdout, c.Unbilled)
	return nil
}

// billingReport is what billing made of the Encounters of a store. It
// holds ids, codes, counts and amounts, never patient data.
type billingReport struct {
	Encounters int // stored
	Finished   int
	// Billed counts the finished Encounters whose Invoice (the latest
	// revision that is not cancelled) has at least one line.
	Billed   int
	Unbilled []unbilledEncounter // the other finished Encounters, by id

	Invoices         int // current revisions, one per Encounter billed
	InvoicesByStatus map[string]int
	Lines            int // Invoice lines: priced services

	// Unpriced groups the not-billable ChargeItems by code and reason.
	Unpriced      []unpricedLines
	UnpricedTotal int

	ByPayer    []*payerTotals // by payer label; self-pay last
	All        payerTotals
	Mismatched []invoiceMismatch // Invoices whose totals are not the sums of their lines
}

// unbilledEncounter is a finished Encounter with no priced line, and why.
type unbilledEncounter struct {
	ID      string
	Reasons []string // "code: reason" of its not-billable ChargeItems, or why there is no Invoice
}

// unpricedLines is a number of not-billable ChargeItems of one code and
// reason.
type unpricedLines struct {
	Code, Reason string
	Count        int
}

// payerTotals sums the Invoices of one payer.
type payerTotals struct {
	Payer    string
	Invoices int
	Lines    int
	Gross    decimal.Decimal // base: the gross charges
	Discount decimal.Decimal // contractual adjustments
	Allowed  decimal.Decimal // informational eligible
	Insurer  decimal.Decimal // deduction: what the payer is expected to pay
	Patient  decimal.Decimal // totalNet: what the patient owes
}

func (t *payerTotals) add(o *payerTotals) {
	t.Invoices += o.Invoices
	t.Lines += o.Lines
	t.Gross = t.Gross.Add(o.Gross)
	t.Discount = t.Discount.Add(o.Discount)
	t.Allowed = t.Allowed.Add(o.Allowed)
	t.Insurer = t.Insurer.Add(o.Insurer)
	t.Patient = t.Patient.Add(o.Patient)
}

// invoiceMismatch is an Invoice whose totals do not add up.
type invoiceMismatch struct {
	ID       string
	Problems []string
}

// selfPay labels the Invoices without Coverage.
const selfPay = "self-pay"

// buildReport reads every Encounter, Invoice and ChargeItem of the store
// through api's searches, and the Accounts, Coverages and payer
// Organizations the Invoices name.
func buildReport(ctx context.Context, api *rest.Server) (*billingReport, error) {
	encs, err := api.SearchResources(ctx, "Encounter", nil)
	if err != nil {
		return nil, fmt.Errorf("search encounters: %w", err)
	}
	invs, err := api.SearchResources(ctx, "Invoice", nil)
	if err != nil {
		return nil, fmt.Errorf("search invoices: %w", err)
	}
	cis, err := api.SearchResources(ctx, "ChargeItem", nil)
	if err != nil {
		return nil, fmt.Errorf("search charge items: %w", err)
	}
	in, err := readReportInputs(encs, invs, cis)
	if err != nil {
		return nil, err
	}
	payers := &payerNames{api: api, byCoverage: map[string]string{}, byAccount: map[string]string{}}

	rep := &billingReport{Encounters: len(encs), InvoicesByStatus: map[string]int{}}
	unpriced := map[[2]string]int{}
	for _, ci := range in.chargeItems {
		if ci.status == "not-billable" {
			unpriced[[2]string{ci.code, ci.reason}]++
			rep.UnpricedTotal++
		}
	}
	for k, n := range unpriced {
		rep.Unpriced = append(rep.Unpriced, unpricedLines{Code: k[0], Reason: k[1], Count: n})
	}
	sort.Slice(rep.Unpriced, func(i, j int) bool {
		a, b := rep.Unpriced[i], rep.Unpriced[j]
		if a.Count != b.Count {
			return a.Count > b.Count
		}
		return a.Code+a.Reason < b.Code+b.Reason
	})

	totals := map[string]*payerTotals{}
	for _, enc := range in.encounters {
		if !enc.finished {
			continue
		}
		rep.Finished++
		inv := in.invoices[enc.id]
		if inv == nil {
			rep.Unbilled = append(rep.Unbilled, unbilledEncounter{ID: enc.id, Reasons: []string{
				"no Invoice: never billed, or billing refused the Encounter " +
					"(see the sync summary, or the log for a push)"}})
			continue
		}
		rep.Invoices++
		rep.InvoicesByStatus[inv.status]++
		rep.Lines += len(inv.lines)
		if len(inv.lines) > 0 {
			rep.Billed++
		} else {
			u := unbilledEncounter{ID: enc.id}
			for _, ci := range in.byEncounter[enc.id] {
				if ci.status == "not-billable" {
					u.Reasons = append(u.Reasons, ci.code+": "+ci.reason)
				}
			}
			if len(u.Reasons) == 0 {
				u.Reasons = []string{"the Invoice has no line and no not-billable ChargeItem says why"}
			}
			rep.Unbilled = append(rep.Unbilled, u)
		}
		if p := inv.check(); len(p) > 0 {
			rep.Mismatched = append(rep.Mismatched, invoiceMismatch{ID: inv.id, Problems: p})
		}

		label, err := payers.of(ctx, inv.account)
		if err != nil {
			return nil, err
		}
		if totals[label] == nil {
			totals[label] = &payerTotals{Payer: label}
		}
		totals[label].add(inv.amounts())
	}
	for _, t := range totals {
		rep.ByPayer = append(rep.ByPayer, t)
		rep.All.add(t)
	}
	sort.Slice(rep.ByPayer, func(i, j int) bool {
		a, b := rep.ByPayer[i].Payer, rep.ByPayer[j].Payer
		if (a == selfPay) != (b == selfPay) {
			return b == selfPay
		}
		return a < b
	})
	rep.All.Payer = "all"
	return rep, nil
}

// Write prints the report; at most maxUnbilled unbilled Encounters are
// listed (0: all).
func (r *billingReport) Write(w io.Writer, maxUnbilled int) {
	pct := decimal.Zero
	if r.Finished > 0 {
		pct = decimal.NewFromInt(int64(r.Billed * 100)).Div(decimal.NewFromInt(int64(r.Finished))).Round(1)
	}
	fmt.Fprintf(w, "encounters: %d stored, %d finished, %d billed (%s %%), %d finished not billed\n",
		r.Encounters, r.Finished, r.Billed, pct.StringFixed(1), len(r.Unbilled))
	var st []string
	for s, n := range r.InvoicesByStatus {
		st = append(st, fmt.Sprintf("%s %d", s, n))
	}
	sort.Strings(st)
	fmt.Fprintf(w, "invoices: %d (%s), %d lines\n", r.Invoices, strings.Join(st, ", "), r.Lines)
	fmt.Fprintf(w, "lines: %d priced (on Invoices), %d unpriced (not-billable ChargeItems)\n", r.Lines, r.UnpricedTotal)

	fmt.Fprintln(w, "\ntotals by payer:")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "payer\tinvoices\tlines\tgross\tadjustment\tallowed\tinsurer\tpatient\t")
	for _, t := range append(r.ByPayer, &r.All) {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t\n", t.Payer, t.Invoices, t.Lines,
			billing.FormatMoney(t.Gross), billing.FormatMoney(t.Discount), billing.FormatMoney(t.Allowed),
			billing.FormatMoney(t.Insurer), billing.FormatMoney(t.Patient))
	}
	tw.Flush()

	fmt.Fprintf(w, "\nunpriced lines by code and reason (%d):\n", r.UnpricedTotal)
	for _, u := range r.Unpriced {
		fmt.Fprintf(w, "  %5d  %s: %s\n", u.Count, u.Code, u.Reason)
	}

	fmt.Fprintf(w, "\nfinished encounters not billed (%d):\n", len(r.Unbilled))
	for i, u := range r.Unbilled {
		if maxUnbilled > 0 && i == maxUnbilled {
			fmt.Fprintf(w, "  ... and %d more (--unbilled 0 lists all)\n", len(r.Unbilled)-i)
			break
		}
		fmt.Fprintf(w, "  Encounter/%s: %s\n", u.ID, strings.Join(u.Reasons, "; "))
	}

	fmt.Fprintf(w, "\ninvoices whose totals do not equal the sum of their lines: %d\n", len(r.Mismatched))
	for _, m := range r.Mismatched {
		fmt.Fprintf(w, "  Invoice/%s: %s\n", m.ID, strings.Join(m.Problems, "; "))
	}
}
