package resource

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"golang.org/x/text/currency"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"

	dtpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	crpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/bundle_and_contained_resource_go_proto"
)

// The checks in this file are R4 rules that jsonformat does not apply,
// run over the parsed resource:
//
//   - dates, dateTimes and instants name a year from 0001
//     (https://hl7.org/fhir/R4/datatypes.html#date: the year 0000 is not
//     in the regex), which the search index relies on;
//   - uri, url and canonical hold no white space
//     (https://hl7.org/fhir/R4/datatypes.html#uri);
//   - Money.currency is an ISO 4217 code, the required binding of R4
//     (https://hl7.org/fhir/R4/datatypes.html#Money,
//     https://hl7.org/fhir/R4/valueset-currencies.html), which jsonformat
//     does not check: its proto keeps the code as free text;
//   - per-1: a Period does not end before it starts
//     (https://hl7.org/fhir/R4/datatypes.html#Period);
//   - dom-2 to dom-5 on contained resources
//     (https://hl7.org/fhir/R4/domainresource.html#invs): no nested
//     contained resources, each one referenced from its container or
//     referring to it, none with meta.versionId, meta.lastUpdated or
//     meta.security; and each needs an id, since the container refers to
//     it by that id (https://hl7.org/fhir/R4/references.html#contained);
//   - txt-1 to txt-3 on narratives (narrative.go);
//   - Reference.reference of the forms R4 gives it, and ref-1, and
//     no conditional references (Type?search), which only a transaction
//     resolves (reference.go).

// visitFunc is called for each message of a resource with the path of the
// element that holds it; an error stops the walk.
type visitFunc func(m protoreflect.Message, path string) error

// walk calls visit for m and every message inside it, depth first, with
// FHIRPath-like paths: Patient.name[0].given, Patient.deceasedDateTime
// (a choice is named with its type), Patient.contained[0].birthDate.
// Contained resources, kept as Any, and the resources of Bundle entries
// and Parameters, kept as ContainedResource, are walked as the resources
// they hold, at the path of the element that holds them.
func walk(m protoreflect.Message, path string, visit visitFunc) error {
	m = resourceIn(m)
	if err := visit(m, path); err != nil {
		return err
	}
	var err error
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Kind() != protoreflect.MessageKind || fd.IsMap() {
			return true
		}
		p := childPath(path, fd)
		if !fd.IsList() {
			err = walk(v.Message(), p, visit)
			return err == nil
		}
		l := v.List()
		for i := 0; i < l.Len() && err == nil; i++ {
			err = walk(l.Get(i).Message(), p+"["+strconv.Itoa(i)+"]", visit)
		}
		return err == nil
	})
	return err
}

// childPath is the path of field fd of the element at path. A field of a
// choice (a oneof named "choice") appends its type to the element's name;
// the fields of other oneofs (a Reference's kinds, a ContainedResource's
// types) stand for the element itself.
func childPath(path string, fd protoreflect.FieldDescriptor) string {
	if o := fd.ContainingOneof(); o != nil && !o.IsSynthetic() {
		if o.Name() == "choice" {
			return path + string(fd.Message().Name())
		}
		return path
	}
	return path + "." + fd.JSONName()
}

// resourceIn returns the resource inside a contained resource (an Any) or
// a ContainedResource, and any other message as it is.
func resourceIn(m protoreflect.Message) protoreflect.Message {
	if a, ok := m.Interface().(*anypb.Any); ok {
		inner, err := a.UnmarshalNew()
		if err != nil {
			return m // not a message this binary knows: nothing to check
		}
		m = inner.ProtoReflect()
	}
	if cr, ok := m.Interface().(*crpb.ContainedResource); ok {
		pr := cr.ProtoReflect()
		if f := pr.WhichOneof(pr.Descriptor().Oneofs().ByName("oneof_resource")); f != nil {
			return pr.Get(f).Message()
		}
	}
	return m
}

// check applies the rules above to the resource message m, whose type
// name is path.
func check(m protoreflect.Message, path string) error {
	var roots localRoots
	return walk(m, path, func(m protoreflect.Message, path string) error {
		return checkMessage(m, path, &roots)
	})
}

func checkMessage(m protoreflect.Message, path string, roots *localRoots) error {
	switch v := m.Interface().(type) {
	case *dtpb.Xhtml:
		if err := checkXHTML(v.GetValue()); err != nil {
			return Errorf(http.StatusBadRequest, IssueInvalid, path, "the narrative is not allowed: %v", err)
		}
	case *dtpb.Date:
		return checkYear(v.GetValueUs(), v.GetTimezone(), path)
	case *dtpb.DateTime:
		return checkYear(v.GetValueUs(), v.GetTimezone(), path)
	case *dtpb.Instant:
		return checkYear(v.GetValueUs(), v.GetTimezone(), path)
	case *dtpb.Uri:
		return checkURI(v.GetValue(), path)
	case *dtpb.Url:
		return checkURI(v.GetValue(), path)
	case *dtpb.Canonical:
		return checkURI(v.GetValue(), path)
	case *dtpb.Period:
		return checkPeriod(v, path)
	case *dtpb.Money_CurrencyCode:
		return checkCurrency(v.GetValue(), path)
	case *dtpb.Reference:
		if err := checkReference(v, path); err != nil {
			return err
		}
		return roots.check(v, path)
	}
	// A DomainResource, not itself contained: its contained resources,
	// which its local references name.
	if f := m.Descriptor().Fields().ByName("contained"); f != nil && f.IsList() && !containedAt(path) {
		roots.push(m, path)
		if m.Has(f) {
			return checkContained(m, m.Get(f).List(), path)
		}
	}
	return nil
}

// checkYear refuses a date, dateTime or instant before the year 0001, in
// the time zone it was written in.
func checkYear(us int64, tz, path string) error {
	if time.UnixMicro(us).In(Zone(tz)).Year() >= 1 {
		return nil
	}
	return Errorf(http.StatusBadRequest, IssueInvalid, path,
		"the year 0000 is not a valid FHIR date: years run from 0001")
}

// Zone returns the location of a jsonformat time zone: "Z", "UTC", an
// offset such as "+01:00", or a location name; UTC for one it cannot load.
func Zone(tz string) *time.Location {
	switch tz {
	case "", "Z", "UTC":
		return time.UTC
	}
	if len(tz) == 6 && (tz[0] == '+' || tz[0] == '-') && tz[3] == ':' {
		h, err1 := strconv.Atoi(tz[1:3])
		m, err2 := strconv.Atoi(tz[4:6])
		if err1 == nil && err2 == nil {
			off := h*3600 + m*60
			if tz[0] == '-' {
				off = -off
			}
			return time.FixedZone(tz, off)
		}
	}
	if loc, err := time.LoadLocation(tz); err == nil {
		return loc
	}
	return time.UTC
}

// checkURI refuses white space in a uri, url or canonical: R4 gives them
// the regex \S* (white space as RE2's \s: tab, newline, form feed,
// carriage return and space).
func checkURI(v, path string) error {
	if !strings.ContainsAny(v, " \t\n\f\r") {
		return nil
	}
	return Errorf(http.StatusBadRequest, IssueInvalid, path,
		"a uri may not contain white space; escape a space as %%20")
}

// ValidCurrency reports whether code is an ISO 4217 alphabetic code, as
// written: three capital letters that golang.org/x/text/currency (CLDR's
// table, historic codes among them) knows.
func ValidCurrency(code string) bool {
	u, err := currency.ParseISO(code)
	// ParseISO takes "usd" for USD; FHIR codes are case-sensitive.
	return err == nil && u.String() == code
}

// checkCurrency refuses a Money.currency that is not an ISO 4217 code.
func checkCurrency(code, path string) error {
	if ValidCurrency(code) {
		return nil
	}
	return Errorf(http.StatusBadRequest, IssueCodeInvalid, path,
		"the currency is not an ISO 4217 code (three capital letters, such as USD)")
}

// checkPeriod applies per-1: start <= end when both are there. Values of
// different precision are compared as FHIRPath compares them: to the
// coarser precision, as written, and equal there is no violation
// (2024-03-01T23:30:00-05:00 to 2024-03-01 is allowed).
func checkPeriod(p *dtpb.Period, path string) error {
	start, end := p.GetStart(), p.GetEnd()
	if start == nil || end == nil {
		return nil
	}
	if !endsBeforeStart(start, end) {
		return nil
	}
	return Errorf(http.StatusBadRequest, IssueInvariant, path,
		"the period ends before it starts (invariant per-1: start <= end)")
}

// endsBeforeStart reports whether end is certainly before start.
func endsBeforeStart(start, end *dtpb.DateTime) bool {
	ts := time.UnixMicro(start.GetValueUs()).In(Zone(start.GetTimezone()))
	te := time.UnixMicro(end.GetValueUs()).In(Zone(end.GetTimezone()))
	ps, pe := start.GetPrecision(), end.GetPrecision()
	if ps >= dtpb.DateTime_SECOND && pe >= dtpb.DateTime_SECOND {
		return te.Before(ts)
	}
	// Compare year, month and day as written, down to the coarser of
	// the two precisions.
	prec := min(ps, pe, dtpb.DateTime_DAY)
	fields := func(t time.Time) []int {
		f := []int{t.Year(), int(t.Month()), t.Day()}
		switch prec {
		case dtpb.DateTime_YEAR:
			return f[:1]
		case dtpb.DateTime_MONTH:
			return f[:2]
		}
		return f
	}
	a, b := fields(ts), fields(te)
	for i := range a {
		if a[i] != b[i] {
			return b[i] < a[i]
		}
	}
	return false
}

// checkContained applies dom-2 to dom-5 to the contained resources of m.
func checkContained(m protoreflect.Message, contained protoreflect.List, path string) error {
	referenced := fragments(m)
	for i := 0; i < contained.Len(); i++ {
		at := path + ".contained[" + strconv.Itoa(i) + "]"
		r := resourceIn(contained.Get(i).Message())
		fields := r.Descriptor().Fields()
		if f := fields.ByName("contained"); f != nil && r.Has(f) {
			return Errorf(http.StatusBadRequest, IssueInvariant, at+".contained",
				"a contained resource may not contain resources of its own (invariant dom-2)")
		}
		if f := fields.ByName("meta"); f != nil && r.Has(f) {
			meta, _ := r.Get(f).Message().Interface().(*dtpb.Meta)
			switch {
			case meta.GetVersionId() != nil || meta.GetLastUpdated() != nil:
				return Errorf(http.StatusBadRequest, IssueInvariant, at+".meta",
					"a contained resource has no meta.versionId or meta.lastUpdated (invariant dom-4)")
			case len(meta.GetSecurity()) > 0:
				return Errorf(http.StatusBadRequest, IssueInvariant, at+".meta.security",
					"a contained resource has no security labels of its own (invariant dom-5)")
			}
		}
		id := ""
		if f := fields.ByName("id"); f != nil && r.Has(f) {
			idm, _ := r.Get(f).Message().Interface().(*dtpb.Id)
			id = idm.GetValue()
		}
		if id == "" {
			return Errorf(http.StatusBadRequest, IssueRequired, at+".id",
				"a contained resource needs an id, by which its container refers to it")
		}
		if !referenced[id] && !refersToContainer(r) {
			return Errorf(http.StatusBadRequest, IssueInvariant, at,
				"the contained resource is not referenced from the rest of the resource and does not "+
					"refer to it (invariant dom-3): refer to it as \"#%s\"", trim(id))
		}
	}
	return nil
}

// fragments returns the ids that references, canonicals, uris and urls in
// m name as "#id": the contained resources m refers to (dom-3).
func fragments(m protoreflect.Message) map[string]bool {
	ids := make(map[string]bool)
	_ = walk(m, "", func(m protoreflect.Message, _ string) error {
		if id, ok := fragment(m); ok && id != "" {
			ids[id] = true
		}
		return nil
	})
	return ids
}

// refersToContainer reports whether contained resource r holds a
// reference "#", to the resource that contains it (dom-3).
func refersToContainer(r protoreflect.Message) bool {
	found := errStop
	err := walk(r, "", func(m protoreflect.Message, _ string) error {
		if id, ok := fragment(m); ok && id == "" {
			return found
		}
		return nil
	})
	return err == found
}

// errStop ends a walk early.
var errStop = Errorf(0, IssueProcessing, "", "stop")

// fragment returns the id a local reference names ("#id"; "" for "#"),
// when m is a Reference, canonical, uri or url holding one.
func fragment(m protoreflect.Message) (string, bool) {
	var s string
	switch v := m.Interface().(type) {
	case *dtpb.Reference:
		if f := v.GetFragment(); f != nil {
			return f.GetValue(), true
		}
		if u := v.GetUri(); u != nil {
			s = u.GetValue()
		}
	case *dtpb.Canonical:
		s = v.GetValue()
	case *dtpb.Uri:
		s = v.GetValue()
	case *dtpb.Url:
		s = v.GetValue()
	}
	if id, ok := strings.CutPrefix(s, "#"); ok {
		return id, true
	}
	return "", false
}
