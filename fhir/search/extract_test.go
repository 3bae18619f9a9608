package search

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

const testBase = "http://localhost:8080/fhir"

// utc parses an RFC 3339 instant for expected ranges.
func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

func rng(lo, hi string) Range { return Range{Lo: utc(lo), Hi: utc(hi)} }

type extractCase struct {
	name    string
	typ     string
	body    string
	want    Index
	wantErr bool
}

func runExtract(t *testing.T, cases []extractCase) {
	t.Helper()
	r := mustLoad(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := r.Extract(tc.typ, []byte(tc.body), testBase)
			if (err != nil) != tc.wantErr {
				t.Fatalf("got error %v, want error %v", err, tc.wantErr)
			}
			if tc.wantErr {
				return
			}
			if diff := cmp.Diff(tc.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Index mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestExtract_Token(t *testing.T) {
	runExtract(t, []extractCase{{
		name: "CodePrimitive",
		typ:  "Invoice",
		body: `{"resourceType":"Invoice","id":"i1","status":"draft"}`,
		want: Index{"status": {Keys: []string{"draft"}}},
	}, {
		name: "CodeableConceptWithAndWithoutSystem",
		typ:  "ChargeItem",
		body: `{"resourceType":"ChargeItem","status":"billable","code":{"coding":[
			{"system":"http://www.ama-assn.org/go/cpt","code":"99213"},
			{"code":"local-1"}],"text":"office visit"}}`,
		want: Index{"code": {Keys: []string{
			"99213", "http://www.ama-assn.org/go/cpt|99213", "http://www.ama-assn.org/go/cpt|",
			"local-1", "|local-1",
		}}},
	}, {
		name: "Coding",
		typ:  "Encounter",
		body: `{"resourceType":"Encounter","status":"finished",
			"class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB"}}`,
		want: Index{
			"status": {Keys: []string{"finished"}},
			"class": {Keys: []string{
				"AMB", "http://terminology.hl7.org/CodeSystem/v3-ActCode|AMB",
				"http://terminology.hl7.org/CodeSystem/v3-ActCode|",
			}},
		},
	}, {
		name: "IdentifiersDeduplicated",
		typ:  "Patient",
		body: `{"resourceType":"Patient","identifier":[
			{"system":"urn:mrn","value":"123","type":{"coding":[{"code":"MR"}]}},
			{"value":"123"},
			{"system":"urn:mrn","value":"123"}]}`,
		want: Index{"identifier": {Keys: []string{"123", "urn:mrn|123", "urn:mrn|", "|123"}}},
	}, {
		name: "CodingWithoutCode",
		typ:  "Encounter",
		body: `{"resourceType":"Encounter","status":"finished","class":{"system":"urn:s"}}`,
		want: Index{"status": {Keys: []string{"finished"}}, "class": {Keys: []string{"urn:s|"}}},
	}, {
		name: "NoValueNoField",
		typ:  "ChargeItem",
		body: `{"resourceType":"ChargeItem","status":"billable","code":{"text":"free text only"}}`,
		want: Index{},
	}})
}

func TestExtract_Reference(t *testing.T) {
	runExtract(t, []extractCase{{
		name: "LocalRelative",
		typ:  "Claim",
		body: `{"resourceType":"Claim","patient":{"reference":"Patient/p1"},
			"insurer":{"reference":"Organization/o1/_history/3"}}`,
		want: Index{
			"patient": {Keys: []string{"Patient/p1", "p1"}},
			"insurer": {Keys: []string{"Organization/o1", "o1"}},
		},
	}, {
		name: "AbsoluteUnderBaseIsLocal",
		typ:  "Claim",
		body: `{"resourceType":"Claim",
			"patient":{"reference":"http://localhost:8080/fhir/Patient/p1/_history/2"}}`,
		want: Index{"patient": {Keys: []string{"Patient/p1", "p1"}}},
	}, {
		name: "ForeignAbsoluteAndUrnAsWritten",
		typ:  "Coverage",
		body: `{"resourceType":"Coverage",
			"beneficiary":{"reference":"urn:uuid:4d3c1b7e-0000-4000-8000-000000000001"},
			"payor":[{"reference":"http://ehr.example.org/fhir/Organization/9"}]}`,
		want: Index{
			"beneficiary": {Keys: []string{"urn:uuid:4d3c1b7e-0000-4000-8000-000000000001"}},
			"patient":     {Keys: []string{"urn:uuid:4d3c1b7e-0000-4000-8000-000000000001"}},
			"payor":       {Keys: []string{"http://ehr.example.org/fhir/Organization/9"}},
		},
	}, {
		name: "ContainedAndIdentifierOnlyIgnored",
		typ:  "Coverage",
		body: `{"resourceType":"Coverage","beneficiary":{"reference":"#p"},
			"payor":[{"identifier":{"system":"urn:payer","value":"77"}}]}`,
		want: Index{},
	}, {
		name: "WhereResolveKeepsPatients",
		typ:  "Invoice",
		body: `{"resourceType":"Invoice","status":"draft","subject":{"reference":"Group/g1"}}`,
		want: Index{
			"status":  {Keys: []string{"draft"}},
			"subject": {Keys: []string{"Group/g1", "g1"}},
		},
	}, {
		name: "WhereResolveByType",
		typ:  "ChargeItem",
		body: `{"resourceType":"ChargeItem","status":"billable","code":{"text":"x"},
			"subject":{"reference":"urn:uuid:4d3c1b7e-0000-4000-8000-000000000002",
				"type":"Patient"}}`,
		want: Index{
			"patient": {Keys: []string{"urn:uuid:4d3c1b7e-0000-4000-8000-000000000002"}},
			"subject": {Keys: []string{"urn:uuid:4d3c1b7e-0000-4000-8000-000000000002"}},
		},
	}, {
		name: "WhereResolveByAbsoluteURL",
		typ:  "Account",
		body: `{"resourceType":"Account","status":"active","subject":[
			{"reference":"http://ehr.example.org/fhir/Patient/9"},
			{"reference":"Organization/o1"}]}`,
		want: Index{
			"status":  {Keys: []string{"active"}},
			"patient": {Keys: []string{"http://ehr.example.org/fhir/Patient/9"}},
			"subject": {Keys: []string{
				"http://ehr.example.org/fhir/Patient/9", "Organization/o1", "o1",
			}},
		},
	}, {
		name: "NestedArraysDeduplicated",
		typ:  "Claim",
		body: `{"resourceType":"Claim","item":[
			{"sequence":1,"encounter":[{"reference":"Encounter/e1"}]},
			{"sequence":2,"encounter":[{"reference":"Encounter/e1"},{"reference":"Encounter/e2"}]},
			{"sequence":3}]}`,
		want: Index{"encounter": {Keys: []string{"Encounter/e1", "e1", "Encounter/e2", "e2"}}},
	}})
}

func TestExtract_Date(t *testing.T) {
	runExtract(t, []extractCase{{
		name: "DateTimeWithZone",
		typ:  "Invoice",
		body: `{"resourceType":"Invoice","status":"issued","date":"2024-03-01T23:30:00-05:00"}`,
		want: Index{
			"status": {Keys: []string{"issued"}},
			"date":   {Ranges: []Range{rng("2024-03-02T04:30:00Z", "2024-03-02T04:30:01Z")}},
		},
	}, {
		name: "ChoiceDateTime",
		typ:  "ChargeItem",
		body: `{"resourceType":"ChargeItem","status":"billable","code":{"text":"x"},
			"occurrenceDateTime":"2024-02"}`,
		want: Index{"occurrence": {Ranges: []Range{
			rng("2024-02-01T00:00:00Z", "2024-03-01T00:00:00Z"),
		}}},
	}, {
		name: "ChoicePeriodOpenEnd",
		typ:  "ChargeItem",
		body: `{"resourceType":"ChargeItem","status":"billable","code":{"text":"x"},
			"occurrencePeriod":{"start":"2024-02-28"}}`,
		want: Index{"occurrence": {Ranges: []Range{
			{Lo: utc("2024-02-28T00:00:00Z"), Hi: MaxTime},
		}}},
	}, {
		name: "ChoicePeriodOpenStart",
		typ:  "ChargeItem",
		body: `{"resourceType":"ChargeItem","status":"billable","code":{"text":"x"},
			"occurrencePeriod":{"end":"2024"}}`,
		want: Index{"occurrence": {Ranges: []Range{
			{Lo: MinTime, Hi: utc("2025-01-01T00:00:00Z")},
		}}},
	}, {
		name: "ChoiceTimingEvents",
		typ:  "ChargeItem",
		body: `{"resourceType":"ChargeItem","status":"billable","code":{"text":"x"},
			"occurrenceTiming":{"event":["2024-01-05","2024-01-06T08:00:00.25Z"]}}`,
		want: Index{"occurrence": {Ranges: []Range{
			rng("2024-01-05T00:00:00Z", "2024-01-06T00:00:00Z"),
			rng("2024-01-06T08:00:00.25Z", "2024-01-06T08:00:00.251Z"),
		}}},
	}, {
		name: "EncounterPeriod",
		typ:  "Encounter",
		body: `{"resourceType":"Encounter","status":"finished","class":{"code":"AMB"},
			"period":{"start":"2024-05-01T09:00:00+02:00","end":"2024-05-01T09:30:00+02:00"}}`,
		want: Index{
			"status": {Keys: []string{"finished"}},
			"class":  {Keys: []string{"AMB", "|AMB"}},
			"date":   {Ranges: []Range{rng("2024-05-01T07:00:00Z", "2024-05-01T07:30:01Z")}},
		},
	}, {
		name: "PerformedStringSkipped",
		typ:  "Procedure",
		body: `{"resourceType":"Procedure","status":"completed","subject":{"reference":"Patient/p"},
			"performedString":"last spring"}`,
		want: Index{
			"patient": {Keys: []string{"Patient/p", "p"}},
			"subject": {Keys: []string{"Patient/p", "p"}},
		},
	}, {
		name: "BirthDate",
		typ:  "Patient",
		body: `{"resourceType":"Patient","birthDate":"2000-02-29"}`,
		want: Index{"birthdate": {Ranges: []Range{
			rng("2000-02-29T00:00:00Z", "2000-03-01T00:00:00Z"),
		}}},
	}, {
		name:    "BadDate",
		typ:     "Patient",
		body:    `{"resourceType":"Patient","birthDate":"2001-02-29"}`,
		wantErr: true,
	}})
}

func TestExtract_StringAndURI(t *testing.T) {
	runExtract(t, []extractCase{{
		name: "HumanName",
		typ:  "Patient",
		body: `{"resourceType":"Patient","name":[{"use":"official","family":"Ünal",
			"given":["Zoë","Ana"],
			"prefix":["Dr."],"suffix":["PhD"],"text":"Dr. Zoë Ana Ünal"}]}`,
		want: Index{
			"name": {
				Keys:  []string{"unal", "zoe", "ana", "dr.", "phd", "dr. zoe ana unal"},
				Exact: []string{"Ünal", "Zoë", "Ana", "Dr.", "PhD", "Dr. Zoë Ana Ünal"},
			},
			"family": {Keys: []string{"unal"}, Exact: []string{"Ünal"}},
			"given":  {Keys: []string{"zoe", "ana"}, Exact: []string{"Zoë", "Ana"}},
		},
	}, {
		name: "UnionNameAlias",
		typ:  "Organization",
		body: `{"resourceType":"Organization","name":"Clínica São José",
			"alias":["CSJ","clinica sao jose"]}`,
		want: Index{"name": {
			Keys:  []string{"clinica sao jose", "csj"},
			Exact: []string{"Clínica São José", "CSJ", "clinica sao jose"},
		}},
	}, {
		name: "URI",
		typ:  "ChargeItemDefinition",
		body: `{"resourceType":"ChargeItemDefinition","status":"active",
			"url":"http://example.org/cid/Office-Visit"}`,
		want: Index{
			"url":    {Keys: []string{"http://example.org/cid/Office-Visit"}},
			"status": {Keys: []string{"active"}},
		},
	}, {
		name: "AsUriKeepsOnlyUriChoice",
		typ:  "ConceptMap",
		body: `{"resourceType":"ConceptMap","status":"active",
			"url":"http://example.org/cm/snomed-cpt",
			"sourceUri":"http://snomed.info/sct?fhir_vs",
			"targetCanonical":"http://example.org/vs/cpt"}`,
		want: Index{
			"status":     {Keys: []string{"active"}},
			"url":        {Keys: []string{"http://example.org/cm/snomed-cpt"}},
			"source-uri": {Keys: []string{"http://snomed.info/sct?fhir_vs"}},
		},
	}})
}

func TestExtract_Errors(t *testing.T) {
	runExtract(t, []extractCase{{
		name:    "MalformedJSON",
		typ:     "Invoice",
		body:    `{"resourceType":"Invoice",`,
		wantErr: true,
	}, {
		name:    "OtherResourceType",
		typ:     "Invoice",
		body:    `{"resourceType":"Claim"}`,
		wantErr: true,
	}, {
		name: "TypeWithoutParams",
		typ:  "Basic",
		body: `{"resourceType":"Basic","code":{"text":"x"}}`,
		want: Index{},
	}, {
		name: "CommonParamsLeftToStore",
		typ:  "Invoice",
		body: `{"resourceType":"Invoice","id":"i1","meta":{"lastUpdated":"2024-01-01T00:00:00Z"}}`,
		want: Index{},
	}})
}

func BenchmarkExtract_Claim(b *testing.B) {
	r := mustLoad(b)
	body := []byte(`{"resourceType":"Claim","id":"c1","status":"active","use":"claim",
		"identifier":[{"system":"urn:claims","value":"42"}],"created":"2024-01-05T10:00:00Z",
		"patient":{"reference":"Patient/p1"},"insurer":{"reference":"Organization/o1"},
		"provider":{"reference":"Organization/o2"},"item":[
		{"sequence":1,"encounter":[{"reference":"Encounter/e1"}]},
		{"sequence":2,"encounter":[{"reference":"Encounter/e1"}]}]}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Extract("Claim", body, testBase); err != nil {
			b.Fatal(err)
		}
	}
}
