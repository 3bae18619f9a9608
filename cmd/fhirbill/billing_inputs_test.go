package main

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
)

// costSharing is Coverage/cov1 of billingFixtures with the
// costToBeneficiary entries terms, each a JSON object without its type
// system.
func costSharing(terms ...string) string {
	for i, t := range terms {
		code, value, _ := strings.Cut(t, " ")
		terms[i] = `{"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/coverage-copay-type",` +
			`"code":"` + code + `"}]},` + value + `}`
	}
	ctb := ""
	if len(terms) > 0 {
		ctb = `,"costToBeneficiary":[` + strings.Join(terms, ",") + `]`
	}
	return `{"resourceType":"Coverage","id":"cov1","status":"active",
	  "beneficiary":{"reference":"Patient/p1"},"payor":[{"reference":"Organization/medicare"}],
	  "period":{"start":"2025-01-01"}` + ctb + `}`
}

// Cost-sharing terms as billingFixtures states them.
const (
	deductible100 = `deductible "valueMoney":{"value":100.00,"currency":"USD"}`
	copayPct20    = `copaypct "valueQuantity":{"value":20}`
)

// modifierExt is a modifier extension with the value value.
func modifierExt(value string) string {
	return `"extension":[{"url":"https://fhirbill.dev/fhir/StructureDefinition/modifier",` + value + `}],`
}

// TestBill_InputsBillingCannotRead: cost-sharing and modifier inputs that
// billing could only guess at are refused, not reinterpreted or dropped.
// Each is pushed by an EHR (the Encounter is stored, 201, and left
// unbilled, the log naming the Encounter, the status and the element),
// then billed by $bill: a 422 whose issue.expression names the element to
// correct. Nothing of the billing is stored. Before, a copaypct of 20 USD
// was applied as 20 %, a deductible of 100 without currency as 100.00
// USD, the first of two copaypct entries was used, and a modifier 26 sent
// as valueCode was dropped, so the visit was billed as the global
// service; a price that passes the input limit (6 x 10^17, 18 digits)
// made a gross total of 19 digits, refused with a 400 on
// Invoice.totalGross.value, an element the client never sent.
func TestBill_InputsBillingCannotRead(t *testing.T) {
	var logs syncBuffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	srv, b := startBillingServer(t, nil)
	if _, err := startEHR(t.Context(), nil, srv.API, srv.Store, b, logger); err != nil {
		t.Fatalf("start billing on push: %v", err)
	}
	for _, r := range billingFixtures {
		put(t, srv, r)
	}
	price93000 := billingFixtures[6]
	if !strings.Contains(price93000, `"id":"price-93000"`) {
		t.Fatalf("billingFixtures[6] is not price-93000: %s", price93000)
	}
	plan := `{"resourceType":"InsurancePlan","id":"medicare-plan","status":"active",
	  "ownedBy":{"reference":"Organization/medicare"},
	  "plan":[{"specificCost":[{"category":{"text":"medical care"},"benefit":[{"type":{"text":"office visits"},"cost":[
	    {"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/coverage-copay-type","code":"gpvisit"}]},
	     "value":{"value":10.00}}]}]}]}]}`

	tests := []struct {
		name string
		// inputs are stored before the visit, after Coverage/cov1 and
		// price-93000 as billingFixtures has them.
		inputs []string
		// procedure edits the ECG Procedure of the visit (93000).
		procedure func(string) string
		ecgs      int      // ECG Procedures of the visit; 0 is 1
		want      []string // issue.expression
		wantIn    string   // in the diagnostics
	}{{
		name:   "CopayPercentAsMoney",
		inputs: []string{costSharing(deductible100, `copaypct "valueMoney":{"value":20,"currency":"USD"}`)},
		want:   []string{"Coverage.costToBeneficiary[1].valueMoney"},
		wantIn: "Coverage/cov1: a copaypct is a percent",
	}, {
		name:   "DeductibleAsPlainQuantity",
		inputs: []string{costSharing(`deductible "valueQuantity":{"value":100}`, copayPct20)},
		want:   []string{"Coverage.costToBeneficiary[0].valueQuantity"},
		wantIn: "Coverage/cov1: a deductible is an amount of money",
	}, {
		name: "CopayPercentInAnotherUnit",
		inputs: []string{costSharing(deductible100,
			`copaypct "valueQuantity":{"value":20,"system":"urn:iso:std:iso:4217","code":"USD"}`)},
		want:   []string{"Coverage.costToBeneficiary[1].valueQuantity"},
		wantIn: "Coverage/cov1: a copaypct is a percent",
	}, {
		name:   "CopayPercentTwice",
		inputs: []string{costSharing(deductible100, copayPct20, `copaypct "valueQuantity":{"value":50}`)},
		want:   []string{"Coverage.costToBeneficiary[1]", "Coverage.costToBeneficiary[2]"},
		wantIn: "Coverage/cov1 states the cost-sharing term copaypct twice",
	}, {
		name:   "PlanCopayWithoutCurrency",
		inputs: []string{costSharing(), plan},
		want:   []string{"InsurancePlan.plan[0].specificCost[0].benefit[0].cost[0].value"},
		wantIn: "InsurancePlan/medicare-plan: a gpvisit is an amount of money",
	}, {
		name: "ModifierAsValueCode",
		procedure: func(p string) string {
			return strings.Replace(p, `"status":"completed",`,
				`"status":"completed",`+modifierExt(`"valueCode":"26"`), 1)
		},
		want:   []string{"Procedure.extension[0].valueCode"},
		wantIn: "has a modifier extension",
	}, {
		name: "ModifierCodingWithoutCode",
		procedure: func(p string) string {
			noCode := modifierExt(`"valueCoding":{"system":"http://www.ama-assn.org/go/cpt","display":"26"}`)
			return strings.Replace(p, `"code":{"coding"`, `"code":{`+noCode+`"coding"`, 1)
		},
		want:   []string{"Procedure.code.extension[0].valueCoding.code"},
		wantIn: "has a modifier extension",
	}, {
		// 600000000000000000 fits the server's 18 digits; the ECG billed
		// three times (the visit's 99213 at 150.00 besides) does not:
		// 3 x 6 x 10^17 + 150.00 has 19.
		name:   "GrossTotalBeyondDecimalLimit",
		inputs: []string{strings.Replace(price93000, `"value":60.00`, `"value":600000000000000000`, 1)},
		ecgs:   3,
		want:   []string{"ChargeItemDefinition.propertyGroup[0].priceComponent[0].amount.value"},
		wantIn: "ChargeItemDefinition/price-93000 prices the services of this Encounter",
	}}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc := fmt.Sprintf("in%d", i+1)
			put(t, srv, costSharing(deductible100, copayPct20))
			put(t, srv, price93000)
			for _, r := range tt.inputs {
				put(t, srv, r)
			}
			visit := officeVisit(enc, "2025-04-01", true)
			encounter, procedure := visit[2], visit[3]
			if tt.procedure != nil {
				procedure = tt.procedure(procedure)
			}
			for _, r := range []string{visit[0], visit[1], procedure} {
				put(t, srv, r)
			}
			for n := 2; n <= tt.ecgs; n++ {
				put(t, srv, strings.Replace(procedure, `"id":"`+enc+`-ecg"`, fmt.Sprintf(`"id":"%s-ecg%d"`, enc, n), 1))
			}

			// Pushed: stored, not billed, and the log says what to fix.
			before := len(logLines(logs.String(), "pushed encounter not billed"))
			mustDo(t, srv, 201, "PUT", "/Encounter/"+enc, []byte(encounter))
			lines := logLines(logs.String(), "pushed encounter not billed")
			if len(lines) != before+1 {
				t.Fatalf("got %d log lines saying %s was not billed, want 1:\n%s",
					len(lines)-before, enc, logs.String())
			}
			l := lines[before]
			if l["encounter_id"] != enc || l["status"] != float64(422) || l["expression"] != tt.want[0] {
				t.Errorf("log line %v: want encounter_id %s, status 422, expression %s", l, enc, tt.want[0])
			}
			// Ids and paths only: not the patient's name or birth date.
			if line, _ := json.Marshal(l); strings.Contains(string(line), "Rivera") ||
				strings.Contains(string(line), "1950-04-02") {
				t.Errorf("log line holds patient data: %s", line)
			}

			// Billed by $bill: the same refusal, as an OperationOutcome.
			res := mustDo(t, srv, 422, "POST", "/Encounter/"+enc+"/$bill", nil)
			var oo struct {
				ResourceType string
				Issue        []struct {
					Code, Diagnostics string
					Expression        []string
				}
			}
			decode(t, res.Body, &oo)
			if oo.ResourceType != "OperationOutcome" || len(oo.Issue) != 1 ||
				!slices.Equal(oo.Issue[0].Expression, tt.want) ||
				!strings.Contains(oo.Issue[0].Diagnostics, tt.wantIn) {
				t.Errorf("$bill: %s\nwant one issue on %v saying %q", res.Body, tt.want, tt.wantIn)
			}

			// Nothing of the billing stored. No visit of this server is
			// ever billed, so there is no Account either.
			mustDo(t, srv, 404, "GET", "/Invoice/"+enc+"-patient", nil)
			for _, q := range []string{
				"/ChargeItem?context=Encounter/" + enc + "&_summary=count",
				"/Account?_summary=count",
			} {
				if res := mustDo(t, srv, 200, "GET", q, nil); !strings.Contains(string(res.Body), `"total":0`) {
					t.Errorf("GET %s: %s, want none", q, res.Body)
				}
			}
		})
	}
}

// TestBill_ModifierBillingCannotRead: a modifier sent as valueCode on a
// client's ChargeItem makes $apply a 422, not a price for the code
// without it; on a price list entry, the ChargeItemDefinition for a code
// and modifier, it makes $bill a 422 on that definition, rather than
// reading it as the price of the code alone, and the billed visit's
// Invoice stays as it was.
func TestBill_ModifierBillingCannotRead(t *testing.T) {
	srv := billedVisit(t)
	valueCode26 := modifierExt(`"valueCode":"26"`)

	mustDo(t, srv, 201, "PUT", "/ChargeItem/ci-26", []byte(`{"resourceType":"ChargeItem","id":"ci-26",`+
		valueCode26+`"status":"billable","subject":{"reference":"Patient/p1"},
		"code":{"coding":[{"system":"http://www.ama-assn.org/go/cpt","code":"99213"}]}}`))
	res := mustDo(t, srv, 422, "POST", "/ChargeItemDefinition/price-99213/$apply",
		[]byte(`{"resourceType":"Parameters","parameter":[{"name":"chargeItem",
		  "valueReference":{"reference":"ChargeItem/ci-26"}}]}`))
	if want := `"expression":["ChargeItem.extension[0].valueCode"]`; !strings.Contains(string(res.Body), want) {
		t.Errorf("$apply: %s, want %s", res.Body, want)
	}

	mustDo(t, srv, 201, "PUT", "/ChargeItemDefinition/price-99213-26", []byte(`{"resourceType":"ChargeItemDefinition",
		"id":"price-99213-26",`+valueCode26+`"url":"https://clinic.example/price/99213-26","status":"active",
		"code":{"coding":[{"system":"http://www.ama-assn.org/go/cpt","code":"99213"}]},
		"propertyGroup":[{"priceComponent":[{"type":"base","amount":{"value":60.00,"currency":"USD"}}]}]}`))
	res = mustDo(t, srv, 422, "POST", "/Encounter/e1/$bill", nil)
	want := `"expression":["ChargeItemDefinition.extension[0].valueCode"]`
	if !strings.Contains(string(res.Body), want) ||
		!strings.Contains(string(res.Body), "ChargeItemDefinition/price-99213-26") {
		t.Errorf("$bill: %s, want %s naming ChargeItemDefinition/price-99213-26", res.Body, want)
	}
	if v := field(mustDo(t, srv, 200, "GET", "/Invoice/e1-patient", nil).JSON(), "meta", "versionId"); v != "1" {
		t.Errorf("Invoice/e1-patient is at version %v, want 1: the refused billing stored it", v)
	}
}
