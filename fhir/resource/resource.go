package resource

import (
	"fmt"
	"net/http"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	dtpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	crpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/bundle_and_contained_resource_go_proto"
)

// idPattern is the R4 id syntax (https://hl7.org/fhir/R4/datatypes.html#id).
var idPattern = regexp.MustCompile(`^[A-Za-z0-9\-.]{1,64}$`)

// ValidID reports whether id is a valid FHIR logical id.
func ValidID(id string) bool { return idPattern.MatchString(id) }

var (
	codecOnce   sync.Once
	unmarshaler *jsonformat.Unmarshaller
	// storedUnmarshaler reads back what unmarshaler already validated.
	storedUnmarshaler *jsonformat.Unmarshaller
	marshaler         *jsonformat.Marshaller
	typeFields        map[string]protoreflect.FieldDescriptor
	typeNames         []string
)

// codec builds the jsonformat codecs and the resource type table once. Both
// codecs are safe for concurrent use: they keep no state between calls.
func codec() {
	codecOnce.Do(func() {
		var err error
		unmarshaler, err = jsonformat.NewUnmarshaller("UTC", fhirversion.R4)
		if err != nil {
			panic(fmt.Sprintf("resource: jsonformat unmarshaller: %v", err))
		}
		unmarshaler.MaxNestingDepth = MaxDepth
		storedUnmarshaler, err = jsonformat.NewUnmarshallerWithoutValidation("UTC", fhirversion.R4)
		if err != nil {
			panic(fmt.Sprintf("resource: jsonformat unmarshaller: %v", err))
		}
		marshaler, err = jsonformat.NewMarshaller(false, "", "", fhirversion.R4)
		if err != nil {
			panic(fmt.Sprintf("resource: jsonformat marshaller: %v", err))
		}
		typeFields = make(map[string]protoreflect.FieldDescriptor)
		oneof := (&crpb.ContainedResource{}).ProtoReflect().Descriptor().Oneofs().ByName("oneof_resource")
		fields := oneof.Fields()
		for i := 0; i < fields.Len(); i++ {
			f := fields.Get(i)
			name := string(f.Message().Name())
			typeFields[name] = f
			typeNames = append(typeNames, name)
		}
		sort.Strings(typeNames)
	})
}

// Types lists every R4 resource type google/fhir/go knows, sorted.
func Types() []string {
	codec()
	return typeNames
}

// Known reports whether typ is an R4 resource type.
func Known(typ string) bool {
	codec()
	_, ok := typeFields[typ]
	return ok
}

// Resource is one parsed, validated FHIR R4 resource.
type Resource struct {
	cr  *crpb.ContainedResource
	msg protoreflect.Message // the resource inside cr
}

// Parse checks body with [CheckJSON], then parses and validates it with
// jsonformat: cardinality, required elements, codes of required bindings,
// reference target types, primitive formats; then applies the R4 rules
// jsonformat leaves out (validate.go: dates from the year 0001, uris
// without white space, ISO 4217 currencies, per-1, dom-2 to dom-5, the
// narrative's txt-1 to txt-3, the forms of Reference.reference and ref-1).
// Failures are *Error values with status 400 (413 for [MaxValues]) naming
// the elements concerned.
func Parse(body []byte) (*Resource, error) {
	codec()
	if err := CheckJSON(body); err != nil {
		return nil, err
	}
	cr, err := unmarshaler.UnmarshalR4(body)
	if err != nil {
		return nil, parseError(err)
	}
	r, err := wrap(cr)
	if err != nil {
		return nil, err
	}
	if err := check(r.msg, r.Type()); err != nil {
		return nil, err
	}
	return r, nil
}

// FromProto wraps a resource message (a concrete type such as
// *invoicepb.Invoice, or a *ContainedResource).
func FromProto(m proto.Message) (*Resource, error) {
	codec()
	if cr, ok := m.(*crpb.ContainedResource); ok {
		return wrap(cr)
	}
	f, ok := typeFields[string(m.ProtoReflect().Descriptor().Name())]
	if !ok {
		return nil, fmt.Errorf("resource: %s is not a resource", m.ProtoReflect().Descriptor().FullName())
	}
	cr := &crpb.ContainedResource{}
	cr.ProtoReflect().Set(f, protoreflect.ValueOfMessage(m.ProtoReflect()))
	return wrap(cr)
}

func wrap(cr *crpb.ContainedResource) (*Resource, error) {
	pr := cr.ProtoReflect()
	f := pr.WhichOneof(pr.Descriptor().Oneofs().ByName("oneof_resource"))
	if f == nil {
		return nil, Errorf(http.StatusBadRequest, IssueStructure, "", "no resource in the body")
	}
	return &Resource{cr: cr, msg: pr.Get(f).Message()}, nil
}

// Type returns the resource type, e.g. "Claim".
func (r *Resource) Type() string { return string(r.msg.Descriptor().Name()) }

// Proto returns the concrete resource message, e.g. *claimpb.Claim.
func (r *Resource) Proto() proto.Message { return r.msg.Interface() }

// ID returns the logical id, or "" when there is none.
func (r *Resource) ID() string {
	if id, ok := r.field("id").(*dtpb.Id); ok {
		return id.GetValue()
	}
	return ""
}

// SetID sets the logical id; "" removes it.
func (r *Resource) SetID(id string) {
	f := r.msg.Descriptor().Fields().ByName("id")
	if id == "" {
		r.msg.Clear(f)
		return
	}
	r.msg.Set(f, protoreflect.ValueOfMessage((&dtpb.Id{Value: id}).ProtoReflect()))
}

// Meta returns the meta element, never nil (an empty one when absent).
func (r *Resource) Meta() *dtpb.Meta {
	if m, ok := r.field("meta").(*dtpb.Meta); ok && m != nil {
		return m
	}
	return &dtpb.Meta{}
}

// Stamp sets meta.versionId and meta.lastUpdated, which are the server's,
// keeping the rest of meta (profile, tag, security, source) as sent.
func (r *Resource) Stamp(version int64, updated time.Time) {
	meta := proto.Clone(r.Meta()).(*dtpb.Meta)
	meta.VersionId = &dtpb.Id{Value: strconv.FormatInt(version, 10)}
	meta.LastUpdated = &dtpb.Instant{
		ValueUs:   updated.UnixMicro(),
		Precision: dtpb.Instant_MILLISECOND,
		Timezone:  "Z",
	}
	r.msg.Set(r.msg.Descriptor().Fields().ByName("meta"), protoreflect.ValueOfMessage(meta.ProtoReflect()))
}

// SetSource sets meta.source, the system the resource came from.
func (r *Resource) SetSource(uri string) {
	meta := proto.Clone(r.Meta()).(*dtpb.Meta)
	meta.Source = &dtpb.Uri{Value: uri}
	r.msg.Set(r.msg.Descriptor().Fields().ByName("meta"), protoreflect.ValueOfMessage(meta.ProtoReflect()))
}

func (r *Resource) field(name protoreflect.Name) proto.Message {
	f := r.msg.Descriptor().Fields().ByName(name)
	if f == nil || !r.msg.Has(f) {
		return nil
	}
	return r.msg.Get(f).Message().Interface()
}

// Marshal prints the resource as compact canonical JSON with jsonformat.
// Decimals keep the digits they were parsed with.
func (r *Resource) Marshal() ([]byte, error) {
	codec()
	b, err := marshaler.Marshal(r.cr)
	if err != nil {
		return nil, fmt.Errorf("marshal %s: %w", r.Type(), err)
	}
	return b, nil
}

// parseError turns a jsonformat error into a 400 with one issue per problem.
//
// jsonformat reports an UnmarshalErrorList of UnmarshalError values (an
// internal type) with Path, Details and Diagnostics. Details never holds
// patient data; Diagnostics may, so it is used only where it names an
// element (an unknown field's name).
func parseError(err error) error {
	out := &Error{Status: http.StatusBadRequest, Err: err}
	for _, ue := range unmarshalErrors(err) {
		is := Issue{Severity: SeverityError, Code: IssueInvalid, Diagnostics: ue.details}
		expr := ue.path
		switch {
		case ue.details == "unknown field":
			is.Code = IssueStructure
			name, _ := strconv.Unquote(ue.diagnostics)
			if name != "" && len(name) <= 64 {
				expr += "." + name
				is.Diagnostics = "unknown element " + strconv.Quote(name)
			}
		case ue.details == "unknown resource type":
			expr = "resourceType"
		case strings.HasPrefix(ue.details, "missing required field "):
			is.Code = IssueRequired
			if name, err := strconv.Unquote(strings.TrimPrefix(ue.details, "missing required field ")); err == nil {
				expr += "." + name
			}
		case ue.details == "invalid JSON":
			is.Code = IssueStructure
		case ue.details == "code type mismatch":
			is.Code = IssueCodeInvalid
			is.Diagnostics = "the code is not one of the codes this element allows"
		case strings.HasSuffix(expr, "Id.history"):
			// The version of Type/id/_history/vid, which jsonformat
			// keeps in a typed id (Encounter.subject.patientId.history).
			if i := strings.LastIndex(strings.TrimSuffix(expr, ".history"), "."); i >= 0 {
				expr = expr[:i] + ".reference"
				is.Diagnostics = "the version of a Type/id/_history/vid reference must be 1-64 of A-Z a-z 0-9 - ."
			}
		}
		if expr != "" {
			is.Expression = []string{expr}
		}
		out.Issues = append(out.Issues, is)
		if len(out.Issues) == 20 {
			break
		}
	}
	if len(out.Issues) == 0 {
		out.Issues = []Issue{{Severity: SeverityError, Code: IssueInvalid, Diagnostics: "invalid resource"}}
	}
	return out
}

type unmarshalError struct{ path, details, diagnostics string }

// unmarshalErrors reads the exported fields of jsonformat's error values,
// whose types live in an internal package.
func unmarshalErrors(err error) []unmarshalError {
	v := reflect.ValueOf(err)
	one := func(p reflect.Value) (unmarshalError, bool) {
		if p.Kind() != reflect.Pointer || p.IsNil() || p.Elem().Kind() != reflect.Struct {
			return unmarshalError{}, false
		}
		s := p.Elem()
		path, details, diag := s.FieldByName("Path"), s.FieldByName("Details"), s.FieldByName("Diagnostics")
		if !path.IsValid() || !details.IsValid() || !diag.IsValid() {
			return unmarshalError{}, false
		}
		return unmarshalError{path.String(), details.String(), diag.String()}, true
	}
	var out []unmarshalError
	switch v.Kind() {
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			if ue, ok := one(v.Index(i)); ok {
				out = append(out, ue)
			}
		}
	case reflect.Pointer:
		if ue, ok := one(v); ok {
			out = append(out, ue)
		}
	}
	if len(out) == 0 {
		// An error of another kind: its text comes from jsonformat's own
		// messages, which do not quote the input.
		out = append(out, unmarshalError{details: "invalid resource: " + err.Error()})
	}
	return out
}

// ParseStored parses JSON that fhirbill itself validated and printed before
// (a stored version): without the validation pass, which that JSON has
// already passed.
func ParseStored(body []byte) (*Resource, error) {
	codec()
	cr, err := storedUnmarshaler.UnmarshalR4(body)
	if err != nil {
		return nil, fmt.Errorf("parse stored resource: %w", err)
	}
	return wrap(cr)
}
