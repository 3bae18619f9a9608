package search

import (
	"fmt"
	"slices"
	"testing"
	"testing/fstest"
)

// spJSON writes a minimal SearchParameter resource.
func spJSON(base, code, typ, expr, targets string) *fstest.MapFile {
	if targets != "" {
		targets = fmt.Sprintf(`,"target":[%s]`, targets)
	}
	return &fstest.MapFile{Data: fmt.Appendf(nil, `{"resourceType":"SearchParameter",
		"url":"http://example.org/sp/%s-%s","name":%q,"status":"active","description":"test",
		"code":%q,"base":[%q],"type":%q,"expression":%q%s}`,
		base, code, code, code, base, typ, expr, targets)}
}

func TestLoad_Errors(t *testing.T) {
	ok := spJSON("Invoice", "status", "token", "Invoice.status", "")
	tests := []struct {
		name    string
		fsys    fstest.MapFS
		wantErr bool
	}{
		{name: "Valid", fsys: fstest.MapFS{"a.json": ok, "README.md": {Data: []byte("not json")}}},
		{
			name:    "Duplicate",
			fsys:    fstest.MapFS{"a.json": ok, "sub/b.json": ok},
			wantErr: true,
		},
		{
			name:    "DuplicateCommon",
			fsys:    fstest.MapFS{"a.json": spJSON("Invoice", "_id", "token", "Invoice.id", "")},
			wantErr: true,
		},
		{
			name: "UnsupportedType",
			fsys: fstest.MapFS{"a.json": spJSON("Invoice", "total",
				"quantity", "Invoice.totalNet", "")},
			wantErr: true,
		},
		{
			name: "OtherResourceCommon",
			fsys: fstest.MapFS{"a.json": spJSON("Resource", "_tag",
				"token", "Resource.meta.tag", "")},
			wantErr: true,
		},
		{
			name: "WrongBaseInExpression",
			fsys: fstest.MapFS{"a.json": spJSON("Invoice", "status",
				"token", "Claim.status", "")},
			wantErr: true,
		},
		{
			name: "Function",
			fsys: fstest.MapFS{"a.json": spJSON("Invoice", "status",
				"token", "Invoice.status.first()", "")},
			wantErr: true,
		},
		{
			name: "Index",
			fsys: fstest.MapFS{"a.json": spJSON("Invoice", "status",
				"token", "Invoice.identifier[0]", "")},
			wantErr: true,
		},
		{
			name:    "BareType",
			fsys:    fstest.MapFS{"a.json": spJSON("Invoice", "status", "token", "Invoice", "")},
			wantErr: true,
		},
		{
			name: "WhereOnToken",
			fsys: fstest.MapFS{"a.json": spJSON("Invoice", "status", "token",
				"Invoice.status.where(resolve() is Patient)", "")},
			wantErr: true,
		},
		{
			name: "WhereTypeNotATarget",
			fsys: fstest.MapFS{"a.json": spJSON("Invoice", "patient", "reference",
				"Invoice.subject.where(resolve() is Group)", `"Patient"`)},
			wantErr: true,
		},
		{
			name: "OtherWhere",
			fsys: fstest.MapFS{"a.json": spJSON("Invoice", "patient", "reference",
				"Invoice.subject.where(reference.exists())", "")},
			wantErr: true,
		},
		{
			name: "TargetsOnToken",
			fsys: fstest.MapFS{"a.json": spJSON("Invoice", "status",
				"token", "Invoice.status", `"Patient"`)},
			wantErr: true,
		},
		{
			name: "AsWithoutType",
			fsys: fstest.MapFS{"a.json": spJSON("ConceptMap", "source",
				"uri", "(ConceptMap.source as )", "")},
			wantErr: true,
		},
		{
			name: "TwoBases",
			fsys: fstest.MapFS{"a.json": {Data: []byte(`{"resourceType":"SearchParameter",
				"url":"u","code":"c","base":["Invoice","Claim"],"type":"token",
				"expression":"Invoice.status | Claim.status"}`)}},
			wantErr: true,
		},
		{
			name:    "NotASearchParameter",
			fsys:    fstest.MapFS{"a.json": {Data: []byte(`{"resourceType":"Patient"}`)}},
			wantErr: true,
		},
		{
			name:    "BadJSON",
			fsys:    fstest.MapFS{"a.json": {Data: []byte(`{`)}},
			wantErr: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(tc.fsys)
			if (err != nil) != tc.wantErr {
				t.Errorf("got error %v, want error %v", err, tc.wantErr)
			}
		})
	}
}

func TestRegistry_ParamsLookupTypes(t *testing.T) {
	r := mustLoad(t)

	var codes []string
	for _, p := range r.Params("Invoice") {
		codes = append(codes, p.Code)
	}
	want := []string{"_id", "_lastUpdated", "date", "identifier", "patient", "recipient", "status", "subject"}
	if !slices.Equal(codes, want) {
		t.Errorf("got Invoice params %q, want %q", codes, want)
	}

	id := r.Lookup("Claim", "_id")
	if id == nil || id != r.Lookup("Invoice", "_id") ||
		id.Resource != "Resource" || id.Type != TypeToken {
		t.Errorf("got _id %+v, want one shared token Param of Resource", id)
	}
	p := r.Lookup("Invoice", "patient")
	if p == nil || p.URL != "http://hl7.org/fhir/SearchParameter/Invoice-patient" ||
		!slices.Equal(p.Targets, []string{"Patient"}) {
		t.Errorf("got Invoice patient %+v, want the HL7 definition targeting Patient", p)
	}
	if p := r.Lookup("Invoice", "insurer"); p != nil {
		t.Errorf("got %+v for Invoice insurer, want nil", p)
	}
	if p := r.Lookup("Basic", "_lastUpdated"); p == nil || p.Type != TypeDate {
		t.Errorf("got Basic _lastUpdated %+v, want the shared date Param", p)
	}

	want = []string{
		"Account", "ChargeItem", "ChargeItemDefinition", "Claim", "ClaimResponse", "ConceptMap",
		"Condition", "Coverage", "Encounter", "Endpoint", "InsurancePlan", "Invoice", "Location", "Organization",
		"Patient", "Practitioner", "PractitionerRole", "Procedure",
	}
	if got := r.Types(); !slices.Equal(got, want) {
		t.Errorf("got types %q, want %q", got, want)
	}
}
