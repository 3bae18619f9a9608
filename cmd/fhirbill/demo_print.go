package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
)

// write prints the demo's summary: what was pulled and billed, the
// Invoice URLs, the Claims and the searches an insurer makes, the tokens
// and curl commands to try, and where the logs are.
func (r *demoRun) write(w io.Writer) {
	patients := map[string]bool{}
	for _, v := range r.visits {
		patients[v.patient] = true
	}
	fmt.Fprintf(w, "\nfhirbill is serving %s (SMART authorization on)\n\n", r.base)
	fmt.Fprintf(w, "Pulled %d patients and %d finished visits from the test EHR at %s,\n",
		len(patients), len(r.visits), r.ehrBase)
	fmt.Fprintf(w, "as its SMART backend-services client %q: stored %d resources, %d unchanged.\n",
		demoClientID, r.sync.Stored(), r.sync.Unchanged)
	fmt.Fprintf(w, "Reference data (price list, payers, plans, fee-list contracts, ConceptMaps): "+
		"%d resources,\n", r.seeded.total())
	fmt.Fprintf(w, "stored %d, %d unchanged. A second run stores nothing new: every id is a natural key.\n\n",
		r.seeded.created+r.seeded.updated, r.seeded.unchanged)

	fmt.Fprintln(w, "Invoices: what each patient owes, billing's estimate until the payer answers the Claim")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  date\tpatient\tpayer\tlines\t  gross\t   owes\tInvoice")
	for _, v := range r.visits {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%5d\t%7s\t%7s\t%s\n", v.day, v.name, v.payer, len(v.lines.lines),
			money(v.lines.gross), money(v.lines.net), r.base+"/Invoice/"+v.invoice)
	}
	tw.Flush()
	var unbilled []string
	for _, v := range r.visits {
		for _, u := range v.notBilled {
			system, code, _ := strings.Cut(u.Code, "|")
			unbilled = append(unbilled, fmt.Sprintf("    %s %s: %s %s: %s",
				v.day, v.name, systemName(system), code, u.Reason))
		}
	}
	if len(unbilled) > 0 {
		fmt.Fprintln(w, "  Not billed (kept as not-billable ChargeItems, with the reason):")
		fmt.Fprintln(w, strings.Join(unbilled, "\n"))
	}

	fmt.Fprintln(w, "\nClaims: one per insured visit, to the payer")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	var insurers []string
	for _, v := range r.visits {
		claim := "-"
		if v.claim != "" {
			claim = "Claim/" + v.claim
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", v.day, v.name, claim, v.claimInfo)
		if v.insurer != "" && !slices.Contains(insurers, v.insurer) {
			insurers = append(insurers, v.insurer)
		}
	}
	tw.Flush()
	fmt.Fprintln(w, "  The Claims each payer receives, searched as the payer would:")
	for _, ins := range insurers {
		fmt.Fprintf(w, "    %s/Claim?insurer=%s\n", r.base, ins)
	}

	r.writeTry(w, insurers)
}

// writeTry prints the tokens and the curl commands to try them with.
func (r *demoRun) writeTry(w io.Writer, insurers []string) {
	own := r.tokenFor
	other := own
	for _, v := range r.visits {
		if v.patient != own.patient {
			other = v
			break
		}
	}
	mine := 0
	for _, v := range r.visits {
		if v.patient == own.patient {
			mine++
		}
	}

	fmt.Fprintln(w, "\nTokens, valid while this demo runs (paste these three lines into a shell):")
	fmt.Fprintf(w, "  B=%s\n", r.base)
	fmt.Fprintf(w, "  STAFF='%s'\n", r.staffToken)
	fmt.Fprintf(w, "  PATIENT='%s'\n", r.patientToken)
	fmt.Fprintf(w, "STAFF is billing staff (%s: reads everything); PATIENT is a SMART app "+
		"launched for\n", demoStaffScope)
	fmt.Fprintf(w, "%s, Patient/%s (%s: sees only that patient's records).\n",
		own.name, own.patient, demoPatientScope)
	fmt.Fprintf(w, "`fhirbill launch-token` mints such a token for a server of your own.\n\n")

	fmt.Fprintln(w, "Try:")
	fmt.Fprintf(w, "  curl -s -H \"Authorization: Bearer $STAFF\" $B/Invoice/%s\n", other.invoice)
	fmt.Fprintln(w, "      # an itemized Invoice: a line per service, with price components")
	if len(insurers) > 0 {
		fmt.Fprintf(w, "  curl -s -H \"Authorization: Bearer $STAFF\" \"$B/Claim?insurer=%s\"\n", insurers[0])
		fmt.Fprintf(w, "      # a searchset of that payer's Claims\n")
	}
	fmt.Fprintf(w, "  curl -s -H \"Authorization: Bearer $PATIENT\" $B/Invoice\n")
	fmt.Fprintf(w, "      # %s's %d Invoices, and no one else's\n", own.name, mine)
	fmt.Fprintf(w, "  curl -s -H \"Authorization: Bearer $PATIENT\" $B/Invoice/%s\n", other.invoice)
	fmt.Fprintf(w, "      # 404: another patient's bill is not there for this token\n")
	fmt.Fprintf(w, "  curl -s -o /dev/null -w '%%{http_code}\\n' $B/Invoice/%s\n", other.invoice)
	fmt.Fprintf(w, "      # 401: no token\n\n")

	fmt.Fprintf(w, "Logs (JSON): %s. The next run reuses %s; --reset empties it.\n", r.logPath, r.dataDir)
	fmt.Fprintln(w, "Serving until Ctrl-C.")
}
