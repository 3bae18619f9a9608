package rest_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/fhirbill/fhirbill/fhir/resource"
	"github.com/fhirbill/fhirbill/fhir/rest/resttest"
)

// TestValidation_Refused posts values that jsonformat accepts but FHIR R4,
// or a limit of fhirbill's, does not. Each must be a 4xx OperationOutcome
// naming the element, never a 5xx, and store nothing.
func TestValidation_Refused(t *testing.T) {
	s := resttest.New(t)
	invoice := func(net string) string {
		return `{"resourceType":"Invoice","status":"draft","totalNet":{"value":` + net + `,"currency":"USD"}}`
	}
	inCurrency := func(cur string) string {
		return `{"resourceType":"Invoice","status":"draft","totalNet":{"value":1,"currency":"` + cur + `"}}`
	}

	for _, tc := range []struct {
		name string
		path string
		body string
		want int
		expr string // the expression the OperationOutcome must name
	}{
		// F5: decimals beyond the stated limits (R4 datatypes.html#decimal
		// leaves the precision to implementations; fhirbill takes 18 digits
		// before the point and 30 after).
		{"TinyExponent", "/Invoice", invoice("1e-10000000"), 400, "Invoice.totalNet.value"},
		{"HugeExponent", "/Invoice", invoice("1e400"), 400, "Invoice.totalNet.value"},
		{"ManyDigits", "/Invoice", invoice(strings.Repeat("9", 5000)), 400, "Invoice.totalNet.value"},
		{"ThirtyOneDecimals", "/Invoice", invoice("0." + strings.Repeat("1", 31)), 400, "Invoice.totalNet.value"},
		{"ExponentPastLimit", "/Invoice", invoice("1e18"), 400, "Invoice.totalNet.value"},
		{"InBatch", "", `{"resourceType":"Bundle","type":"batch","entry":[{"resource":` + invoice("1e-99") +
			`,"request":{"method":"POST","url":"Invoice"}}]}`, 400, "Bundle.entry[0].resource.totalNet.value"},

		// F7: year 0000 is not a FHIR date (R4 datatypes.html#date: the
		// year runs from 0001); jsonformat accepts it, the search index
		// did not.
		{"YearZeroBirthDate", "/Patient", `{"resourceType":"Patient","birthDate":"0000-01-01"}`, 400, "Patient.birthDate"},
		{"YearZeroPeriodStart", "/Encounter", `{"resourceType":"Encounter","status":"planned","class":{"code":"AMB"},"period":{"start":"0000"}}`, 400, "Encounter.period.start"},
		{"YearZeroMonth", "/Encounter", `{"resourceType":"Encounter","status":"planned","class":{"code":"AMB"},"period":{"start":"0000-06"}}`, 400, "Encounter.period.start"},
		{"YearZeroInstant", "/Invoice", `{"resourceType":"Invoice","status":"draft","date":"0000-06-01T00:00:00Z"}`, 400, "Invoice.date"},
		{"YearZeroInChoice", "/ChargeItem", `{"resourceType":"ChargeItem","status":"billable","code":{"text":"x"},"subject":{"reference":"Patient/p"},"occurrenceDateTime":"0000-01-01"}`, 400, "ChargeItem.occurrenceDateTime"},
		{"YearZeroInExtension", "/Patient", `{"resourceType":"Patient","extension":[{"url":"http://example.org/x","valueDate":"0000-01-01"}]}`, 400, "Patient.extension[0].valueDate"},
		{"YearZeroInContained", "/Patient", `{"resourceType":"Patient","contained":[{"resourceType":"Patient","id":"c1","birthDate":"0000"}],"link":[{"other":{"reference":"#c1"},"type":"seealso"}]}`, 400, "Patient.contained[0].birthDate"},

		// F18: invariants and formats of R4 that jsonformat does not check.
		{"NestedContained", "/Patient", `{"resourceType":"Patient","contained":[{"resourceType":"Organization","id":"o1","contained":[{"resourceType":"Organization","id":"o2"}]}],"managingOrganization":{"reference":"#o1"}}`, 400, "Patient.contained[0].contained"},
		{"ContainedNotReferenced", "/Patient", `{"resourceType":"Patient","contained":[{"resourceType":"Organization","id":"o1"}]}`, 400, "Patient.contained[0]"},
		{"ContainedWithoutID", "/Patient", `{"resourceType":"Patient","contained":[{"resourceType":"Organization","name":"x"}],"managingOrganization":{"reference":"#"}}`, 400, "Patient.contained[0].id"},
		{"ContainedWithVersion", "/Patient", `{"resourceType":"Patient","contained":[{"resourceType":"Organization","id":"o1","meta":{"versionId":"2"}}],"managingOrganization":{"reference":"#o1"}}`, 400, "Patient.contained[0].meta"},
		{"PeriodEndsBeforeStart", "/Encounter", `{"resourceType":"Encounter","status":"finished","class":{"code":"AMB"},"period":{"start":"2024-03-02","end":"2024-03-01"}}`, 400, "Encounter.period"},
		{"PeriodEndsBeforeStartTimes", "/Encounter", `{"resourceType":"Encounter","status":"finished","class":{"code":"AMB"},"period":{"start":"2024-03-01T10:00:00Z","end":"2024-03-01T11:59:00+02:00"}}`, 400, "Encounter.period"},
		{"ChoicePeriod", "/ChargeItem", `{"resourceType":"ChargeItem","status":"billable","code":{"text":"x"},"subject":{"reference":"Patient/p"},"occurrencePeriod":{"start":"2024","end":"2023-12"}}`, 400, "ChargeItem.occurrencePeriod"},
		{"SystemWithSpace", "/Patient", `{"resourceType":"Patient","identifier":[{"system":"http://example.org/mrn list","value":"1"}]}`, 400, "Patient.identifier[0].system"},
		{"URLWithSpace", "/Patient", `{"resourceType":"Patient","photo":[{"contentType":"image/png","url":"http://example.org/p 1.png"}]}`, 400, "Patient.photo[0].url"},
		{"CanonicalWithSpace", "/Patient", `{"resourceType":"Patient","meta":{"profile":["http://example.org/StructureDefinition/a b"]}}`, 400, "Patient.meta.profile[0]"},
		{"URIWithTab", "/Patient", `{"resourceType":"Patient","implicitRules":"urn:x\ty"}`, 400, "Patient.implicitRules"},

		// Money.currency has a required binding to ISO 4217 (R4
		// datatypes.html#Money), which jsonformat does not check.
		{"CurrencyNotISO", "/Invoice", inCurrency("FOO"), 400, "Invoice.totalNet.currency"},
		{"CurrencyLowerCase", "/Invoice", inCurrency("usd"), 400, "Invoice.totalNet.currency"},
		{"CurrencyWithSpace", "/Invoice", inCurrency("U SD"), 400, "Invoice.totalNet.currency"},
		{"CurrencyEmoji", "/Invoice", inCurrency("💰"), 400, "Invoice.totalNet.currency"},
		{"CurrencyInLine", "/Invoice", `{"resourceType":"Invoice","status":"draft","lineItem":[{"chargeItemReference":{"reference":"ChargeItem/c1"},"priceComponent":[{"type":"base","amount":{"value":1,"currency":"DOLLARS"}}]}]}`, 400, "Invoice.lineItem[0].priceComponent[0].amount.currency"},
		{"CurrencyInExtension", "/Invoice", `{"resourceType":"Invoice","status":"draft","extension":[{"url":"http://example.org/x","valueMoney":{"value":1,"currency":"US$"}}]}`, 400, "Invoice.extension[0].valueMoney.currency"},
		{"CurrencyInBundle", "/Bundle", `{"resourceType":"Bundle","type":"collection","entry":[{"resource":` + inCurrency("usd") +
			`}]}`, 400, "Bundle.entry[0].resource.totalNet.currency"},

		// Reference.reference: Type/id[/_history/vid] with a known type
		// and valid ids, an absolute URL, or #id naming a contained
		// resource (R4 references.html, ref-1). A conditional reference
		// is resolved only in a transaction.
		{"RefConditionalEmptyQuery", "/Encounter", encounter("Patient?"), 400, "Encounter.subject.reference"},
		{"RefTypeWithoutID", "/Encounter", encounter("Patient/"), 400, "Encounter.subject.reference"},
		{"RefIDWithSpace", "/Encounter", encounter("Patient/a b"), 400, "Encounter.subject.reference"},
		{"RefIDNotAnID", "/Encounter", encounter("Patient/$$$"), 400, "Encounter.subject.reference"},
		{"RefEmptyVersion", "/Encounter", encounter("Patient/p1/_history/"), 400, "Encounter.subject.reference"},
		{"RefThreeSegments", "/Encounter", encounter("Patient/p1/x"), 400, "Encounter.subject.reference"},
		{"RefUnknownType", "/Encounter", encounter("Pateint/p1"), 400, "Encounter.subject.reference"},
		{"RefTypeOnly", "/Encounter", encounter("Patient"), 400, "Encounter.subject.reference"},
		{"RefHTTPWithoutHost", "/Encounter", encounter("http:///Patient/p1"), 400, "Encounter.subject.reference"},
		{"RefURLWithSpace", "/Encounter", encounter("http://example.org/Patient/a b"), 400, "Encounter.subject.reference"},
		{"RefBadUUID", "/Encounter", encounter("urn:uuid:not-a-uuid"), 400, "Encounter.subject.reference"},
		{"RefBadOID", "/Encounter", encounter("urn:oid:1.02"), 400, "Encounter.subject.reference"},
		{"RefURNOutsideTransaction", "/Encounter", encounter("urn:uuid:5e0b0000-0000-4000-8000-000000000001"), 400, "Encounter.subject.reference"},
		{"RefNoSuchContained", "/Encounter", encounter("#nope"), 400, "Encounter.subject.reference"},
		{"RefContainerOutsideContained", "/Encounter", encounter("#"), 400, "Encounter.subject.reference"},
		{"RefFromContainedToNothing", "/Patient", `{"resourceType":"Patient","contained":[{"resourceType":"Organization","id":"o1","partOf":{"reference":"#o2"}}],"managingOrganization":{"reference":"#o1"}}`, 400, "Patient.contained[0].partOf.reference"},
		{"RefInBundleEntry", "/Bundle", `{"resourceType":"Bundle","type":"collection","entry":[{"resource":` + encounter("#nope") + `}]}`, 400, "Bundle.entry[0].resource.subject.reference"},
		{"NarrativeAttribute", "/Patient", `{"resourceType":"Patient","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\"><p foo=\"1\">hi</p></div>"}}`, 400, "Patient.text.div"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := snapshotTypes(t, s, "Invoice", "Encounter", "Patient", "Bundle")
			got := s.Do(http.MethodPost, tc.path, []byte(tc.body))
			if got.Status != tc.want {
				t.Errorf("got %d, want %d: %s", got.Status, tc.want, short(got.Body))
			}
			if oo := got.JSON(); oo["resourceType"] != "OperationOutcome" {
				t.Fatalf("body is not an OperationOutcome: %s", short(got.Body))
			}
			if !strings.Contains(string(got.Body), `"expression":["`+tc.expr+`"]`) {
				t.Errorf("the OperationOutcome does not name %s: %s", tc.expr, short(got.Body))
			}
			if after := snapshotTypes(t, s, "Invoice", "Encounter", "Patient", "Bundle"); after != before {
				t.Errorf("store changed: got %s, want %s", after, before)
			}
		})
	}
}

// TestValidation_TooManyValues posts resources whose parse would take
// memory and time out of proportion to their size (F6: a 15 MiB Patient of
// 983,040 tiny names took 1.8 GB): past resource.MaxValues values a
// resource, and past resource.MaxBundleValues a Bundle, is a 413 naming
// the element, and nothing is stored.
func TestValidation_TooManyValues(t *testing.T) {
	s := resttest.New(t)
	names := func(n int) string {
		return strings.TrimSuffix(strings.Repeat(`{"family":"x"},`, n), ",")
	}
	// Each name is two values (the object and its string), next to the
	// resource object, its resourceType and the array.
	atLimit := `{"resourceType":"Patient","name":[` + names((resource.MaxValues-3)/2) + `]}`
	over := `{"resourceType":"Patient","name":[` + names(resource.MaxValues/2) + `]}`
	entry := `{"resource":{"resourceType":"Patient","name":[` + names(resource.MaxValues/4) + `]},` +
		`"request":{"method":"POST","url":"Patient"}}`
	bigBundle := `{"resourceType":"Bundle","type":"batch","entry":[` +
		strings.TrimSuffix(strings.Repeat(entry+",", resource.MaxBundleValues/(resource.MaxValues/2)+1), ",") + `]}`

	for _, tc := range []struct {
		name, path, body, expr string
	}{
		{"Resource", "/Patient", over, "Patient.name"},
		{"Bundle", "", bigBundle, "Bundle.entry[9].resource.name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := snapshotTypes(t, s, "Patient")
			got := s.Do(http.MethodPost, tc.path, []byte(tc.body))
			if got.Status != http.StatusRequestEntityTooLarge {
				t.Errorf("got %d, want 413: %s", got.Status, short(got.Body))
			}
			if !strings.Contains(string(got.Body), `"expression":["`+tc.expr+`"]`) {
				t.Errorf("the OperationOutcome does not name %s: %s", tc.expr, short(got.Body))
			}
			if after := snapshotTypes(t, s, "Patient"); after != before {
				t.Errorf("store changed: got %s, want %s", after, before)
			}
		})
	}

	if got := s.Do(http.MethodPost, "/Patient", []byte(atLimit)); got.Status != http.StatusCreated {
		t.Errorf("a Patient of resource.MaxValues-1 values: got %d, want 201: %s", got.Status, short(got.Body))
	}
}

// TestValidation_Accepted posts values at the limits: each is stored and
// read back as sent.
func TestValidation_Accepted(t *testing.T) {
	s := resttest.New(t)
	for _, tc := range []struct {
		name, path, body, want string
	}{
		{"AtTheDigitLimits", "/Invoice",
			`{"resourceType":"Invoice","status":"draft","totalNet":{"value":123456789012345678.123456789012345678901234567890,"currency":"USD"}}`,
			`"value":123456789012345678.123456789012345678901234567890`},
		{"ExponentWithinLimits", "/Invoice",
			`{"resourceType":"Invoice","status":"draft","totalNet":{"value":1.5e-29,"currency":"USD"}}`,
			`"value":1.5e-29`},
		{"ContainedReferenced", "/Patient",
			`{"resourceType":"Patient","contained":[{"resourceType":"Organization","id":"o1","name":"Clinic"}],"managingOrganization":{"reference":"#o1"}}`,
			`"reference":"#o1"`},
		{"ContainedReferringToContainer", "/Patient",
			`{"resourceType":"Patient","id":"p","contained":[{"resourceType":"Provenance","id":"pv","target":[{"reference":"#"}],"recorded":"2024-01-01T00:00:00Z","agent":[{"who":{"display":"x"}}]}]}`,
			`"id":"pv"`},
		{"ContainedReferencedByCanonical", "/Questionnaire",
			`{"resourceType":"Questionnaire","status":"active","contained":[{"resourceType":"ValueSet","id":"vs","status":"active"}],"item":[{"linkId":"1","type":"choice","answerValueSet":"#vs"}]}`,
			`"answerValueSet":"#vs"`},
		{"PeriodSameDayOtherPrecision", "/Encounter",
			`{"resourceType":"Encounter","status":"finished","class":{"code":"AMB"},"period":{"start":"2024-03-01T23:30:00-05:00","end":"2024-03-01"}}`,
			`"end":"2024-03-01"`},
		{"PeriodEqual", "/Encounter",
			`{"resourceType":"Encounter","status":"finished","class":{"code":"AMB"},"period":{"start":"2024-03-01T10:00:00Z","end":"2024-03-01T12:00:00+02:00"}}`,
			`"end":"2024-03-01T12:00:00+02:00"`},
		{"CurrencyEUR", "/Invoice", `{"resourceType":"Invoice","status":"draft","totalNet":{"value":1,"currency":"EUR"}}`, `"currency":"EUR"`},
		{"CurrencyNone", "/Invoice", `{"resourceType":"Invoice","status":"draft","totalNet":{"value":1,"currency":"XXX"}}`, `"currency":"XXX"`},
		{"RefVersioned", "/Encounter", encounter("Patient/p1/_history/2"), `"reference":"Patient/p1/_history/2"`},
		{"RefAbsolute", "/Encounter", encounter("http://example.org/fhir/Patient/p1"), `"reference":"http://example.org/fhir/Patient/p1"`},
		{"RefContainedSibling", "/Patient",
			`{"resourceType":"Patient","contained":[{"resourceType":"Organization","id":"o1","partOf":{"reference":"#o2"}},{"resourceType":"Organization","id":"o2"}],"managingOrganization":{"reference":"#o1"}}`,
			`"reference":"#o2"`},
		{"YearOne", "/Patient", `{"resourceType":"Patient","birthDate":"0001-01-01"}`, `"birthDate":"0001-01-01"`},
		{"NarrativeAttributes", "/Patient",
			`{"resourceType":"Patient","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\"><p class=\"x\" style=\"color:red\">hi <a href=\"http://example.org\" name=\"n\">a</a></p><table border=\"1\"><tr><td colspan=\"2\">c</td></tr></table><img src=\"#i\" alt=\"i\"/></div>"}}`,
			`colspan`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := s.Do(http.MethodPost, tc.path, []byte(tc.body))
			if got.Status != http.StatusCreated {
				t.Fatalf("got %d, want 201: %s", got.Status, got.Body)
			}
			if !strings.Contains(string(got.Body), tc.want) {
				t.Errorf("stored %s: want it to hold %s", got.Body, tc.want)
			}
		})
	}
}

// encounter is an Encounter whose subject is ref.
func encounter(ref string) string {
	return `{"resourceType":"Encounter","status":"finished","class":{"code":"AMB"},"subject":{"reference":"` + ref + `"}}`
}

// snapshotTypes summarizes the stored versions of types.
func snapshotTypes(t *testing.T, s *resttest.Server, types ...string) string {
	t.Helper()
	var b strings.Builder
	for _, typ := range types {
		h := s.Do(http.MethodGet, "/"+typ+"/_history?_count=1", nil).JSON()
		fmt.Fprintf(&b, "%s:%v ", typ, h["total"])
	}
	return b.String()
}

// short cuts a body for a failure message.
func short(b []byte) string {
	if len(b) > 600 {
		return string(b[:600]) + "..."
	}
	return string(b)
}
