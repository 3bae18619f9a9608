package billing

import (
	"html"
	"strconv"
	"strings"

	cpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/codes_go_proto"
	dtpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	invpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/invoice_go_proto"
)

// narrative is the Invoice's generated text: an itemized XHTML table, one
// row per line and a totals row, then the services that were not billed.
// It uses only elements FHIR narrative allows
// (https://hl7.org/fhir/R4/narrative.html#xhtml) and escapes every value.
func narrative(in *inputs, lines []*line, inv *invpb.Invoice, currency string) *dtpb.Narrative {
	var w strings.Builder
	w.WriteString(`<div xmlns="http://www.w3.org/1999/xhtml">`)
	w.WriteString("<p>Invoice for Encounter/" + esc(in.encID) + ", date of service " + in.dos.Format("2006-01-02"))
	if in.coverage != nil {
		w.WriteString(", payer " + esc(in.payer) + ", Coverage/" + esc(in.coverage.GetId().GetValue()))
	} else {
		w.WriteString(", self-pay")
	}
	w.WriteString(". Amounts in " + esc(currency) + ".</p>")
	if in.remittance != "" {
		w.WriteString("<p>Amounts as the payer adjudicated them in " + esc(in.remittance) + ".</p>")
	}

	w.WriteString("<table><thead><tr><th>#</th><th>Date</th><th>Code</th><th>Modifiers</th>" +
		"<th>Description</th><th>Charge</th><th>Allowed</th><th>Insurer pays</th><th>Deductible</th>" +
		"<th>Copay</th><th>Coinsurance</th><th>Patient owes</th></tr></thead><tbody>")
	n := 0
	for _, l := range lines {
		if !l.billable() {
			continue
		}
		n++
		s := l.share
		row(&w, "td", strconv.Itoa(n), l.date.Format("2006-01-02"), l.code.GetCode().GetValue(),
			modifierText(l.modifiers), l.display, FormatMoney(l.gross), FormatMoney(s.Allowed),
			FormatMoney(s.InsurerPays), FormatMoney(s.Deductible), FormatMoney(s.Copay),
			FormatMoney(s.Coinsurance), FormatMoney(s.PatientTotal))
	}
	w.WriteString("</tbody><tfoot>")
	t := func(i int) string { return inv.GetTotalPriceComponent()[i].GetAmount().GetValue().GetValue() }
	row(&w, "th", "", "", "", "", "Total", inv.GetTotalGross().GetValue().GetValue(), t(3), t(2), t(4),
		t(5), t(6), inv.GetTotalNet().GetValue().GetValue())
	w.WriteString("</tfoot></table>")

	var skipped []string
	for _, l := range lines {
		if !l.billable() {
			c := l.sourceCode
			if l.code != nil {
				c = l.code
			}
			skipped = append(skipped, "<li>"+esc(l.date.Format("2006-01-02")+" "+c.GetCode().GetValue()+
				" "+l.display+": "+l.notBillable)+"</li>")
		}
	}
	if len(skipped) > 0 {
		w.WriteString("<p>Not billed:</p><ul>" + strings.Join(skipped, "") + "</ul>")
	}
	w.WriteString("</div>")

	return &dtpb.Narrative{
		Status: &dtpb.Narrative_StatusCode{Value: cpb.NarrativeStatusCode_GENERATED},
		Div:    &dtpb.Xhtml{Value: w.String()},
	}
}

// row writes one table row of cells of kind td or th.
func row(w *strings.Builder, cell string, values ...string) {
	w.WriteString("<tr>")
	for _, v := range values {
		w.WriteString("<" + cell + ">" + esc(v) + "</" + cell + ">")
	}
	w.WriteString("</tr>")
}

// esc escapes text for XHTML.
func esc(s string) string { return html.EscapeString(s) }
