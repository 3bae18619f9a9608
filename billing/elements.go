package billing

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/shopspring/decimal"
	"google.golang.org/protobuf/proto"

	"github.com/fhirbill/fhirbill/fhir/resource"

	dtpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
)

// This file holds small helpers over FHIR datatypes: references, codings,
// extensions, money, dates and derived ids.

// refTo builds a literal reference such as "Patient/p1".
func refTo(s string) *dtpb.Reference {
	return &dtpb.Reference{Reference: &dtpb.Reference_Uri{Uri: &dtpb.String{Value: s}}}
}

// refString returns the literal reference of r, or "" when it has none.
func refString(r *dtpb.Reference) string { return resource.ReferenceString(r) }

// refID returns the id of a local reference to typ ("Patient/p1" → "p1"),
// or "" when r points elsewhere.
func refID(r *dtpb.Reference, typ string) string {
	s := refString(r)
	if i := strings.Index(s, "/_history/"); i >= 0 {
		s = s[:i]
	}
	id, ok := strings.CutPrefix(s, typ+"/")
	if !ok || strings.Contains(id, "/") {
		return ""
	}
	return id
}

// coding builds a Coding; empty fields are left out.
func coding(system, code, display string) *dtpb.Coding {
	c := &dtpb.Coding{Code: &dtpb.Code{Value: code}}
	if system != "" {
		c.System = &dtpb.Uri{Value: system}
	}
	if display != "" {
		c.Display = &dtpb.String{Value: display}
	}
	return c
}

// concept builds a CodeableConcept of codings.
func concept(cs ...*dtpb.Coding) *dtpb.CodeableConcept {
	return &dtpb.CodeableConcept{Coding: cs}
}

// codingIn returns the first coding of cc in system, or nil.
func codingIn(cc *dtpb.CodeableConcept, system string) *dtpb.Coding {
	for _, c := range cc.GetCoding() {
		if c.GetSystem().GetValue() == system && c.GetCode().GetValue() != "" {
			return c
		}
	}
	return nil
}

// hasCode reports whether cc has a coding system|code.
func hasCode(cc *dtpb.CodeableConcept, system, code string) bool {
	for _, c := range cc.GetCoding() {
		if c.GetSystem().GetValue() == system && c.GetCode().GetValue() == code {
			return true
		}
	}
	return false
}

// extensions returns the extensions of exts with url.
func extensions(exts []*dtpb.Extension, url string) []*dtpb.Extension {
	var out []*dtpb.Extension
	for _, e := range exts {
		if e.GetUrl().GetValue() == url {
			out = append(out, e)
		}
	}
	return out
}

// extString returns the valueString, valueCode or valueUri of the first
// extension with url, or "".
func extString(exts []*dtpb.Extension, url string) string {
	for _, e := range extensions(exts, url) {
		v := e.GetValue()
		switch {
		case v.GetStringValue() != nil:
			return v.GetStringValue().GetValue()
		case v.GetCode() != nil:
			return v.GetCode().GetValue()
		case v.GetUri() != nil:
			return v.GetUri().GetValue()
		}
	}
	return ""
}

// stringExt builds an extension with a valueString.
func stringExt(url, s string) *dtpb.Extension {
	return &dtpb.Extension{Url: &dtpb.Uri{Value: url}, Value: &dtpb.Extension_ValueX{
		Choice: &dtpb.Extension_ValueX_StringValue{StringValue: &dtpb.String{Value: s}}}}
}

// modifiersOf returns the codes of the modifier extensions of each list,
// in order, without repeats.
func modifiersOf(lists ...[]*dtpb.Extension) []*dtpb.Coding {
	var out []*dtpb.Coding
	seen := map[string]bool{}
	for _, exts := range lists {
		for _, e := range extensions(exts, ExtModifier) {
			c := e.GetValue().GetCoding()
			code := strings.ToUpper(strings.TrimSpace(c.GetCode().GetValue()))
			if code == "" || seen[code] {
				continue
			}
			seen[code] = true
			out = append(out, c)
		}
	}
	return out
}

// extAt is the extensions of one element that may carry modifiers, and
// the element's path ("Procedure.code").
type extAt struct {
	path string
	exts []*dtpb.Extension
}

// readModifiers is [modifiersOf] for what a client sent: a modifier
// extension whose value is not a Coding with a code (a valueCode "26",
// say) is a 422 naming it, since billing would otherwise price the
// service as if it had no modifier (the global service for a
// professional component). name names the resource in the detail.
func readModifiers(name string, at ...extAt) ([]*dtpb.Coding, error) {
	lists := make([][]*dtpb.Extension, len(at))
	for i, a := range at {
		for j, e := range a.exts {
			if e.GetUrl().GetValue() != ExtModifier {
				continue
			}
			expr := fmt.Sprintf("%s.extension[%d]", a.path, j)
			c := e.GetValue().GetCoding()
			switch {
			case c == nil && e.GetValue().GetChoice() != nil:
				expr += "." + valueName(e.GetValue())
			case c != nil:
				expr += ".valueCoding.code"
			}
			if strings.TrimSpace(c.GetCode().GetValue()) == "" {
				return nil, unprocessable(expr, "%s has a modifier extension (%s) without a valueCoding "+
					"that has a code: billing cannot tell how the modifier changes the service",
					name, ExtModifier)
			}
		}
		lists[i] = a.exts
	}
	return modifiersOf(lists...), nil
}

// valueName is the JSON name of the type an extension's value has:
// "valueCode", "valueCoding". The datatypes' message names are the FHIR
// type names.
func valueName(v *dtpb.Extension_ValueX) string {
	m := v.ProtoReflect()
	f := m.WhichOneof(m.Descriptor().Oneofs().ByName("choice"))
	if f == nil || f.Message() == nil {
		return "value"
	}
	return "value" + string(f.Message().Name())
}

// modifierCodes returns the upper-case codes of mods.
func modifierCodes(mods []*dtpb.Coding) []string {
	out := make([]string, len(mods))
	for i, m := range mods {
		out[i] = strings.ToUpper(strings.TrimSpace(m.GetCode().GetValue()))
	}
	return out
}

// modifierExts builds one modifier extension per coding.
func modifierExts(mods []*dtpb.Coding) []*dtpb.Extension {
	out := make([]*dtpb.Extension, len(mods))
	for i, m := range mods {
		out[i] = &dtpb.Extension{Url: &dtpb.Uri{Value: ExtModifier}, Value: &dtpb.Extension_ValueX{
			Choice: &dtpb.Extension_ValueX_Coding{Coding: proto.Clone(m).(*dtpb.Coding)}}}
	}
	return out
}

// money builds a Money of d rounded to the cent in currency.
func money(d decimal.Decimal, currency string) *dtpb.Money {
	return &dtpb.Money{
		Value:    &dtpb.Decimal{Value: FormatMoney(d)},
		Currency: &dtpb.Money_CurrencyCode{Value: currency},
	}
}

// day is a calendar date, held as midnight UTC.
type day = time.Time

// dayOf returns the calendar date of dt in its own time zone, and false
// when dt is absent.
func dayOf(dt *dtpb.DateTime) (day, bool) {
	if dt == nil {
		return time.Time{}, false
	}
	t := time.UnixMicro(dt.GetValueUs()).In(resource.Zone(dt.GetTimezone()))
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC), true
}

// covers reports whether period p (absent bounds open) includes d.
func covers(p *dtpb.Period, d day) bool {
	if s, ok := dayOf(p.GetStart()); ok && d.Before(s) {
		return false
	}
	if e, ok := dayOf(p.GetEnd()); ok && d.After(e) {
		return false
	}
	return true
}

// dateTime builds a dateTime of t to the second, in UTC.
func dateTime(t time.Time) *dtpb.DateTime {
	return &dtpb.DateTime{
		ValueUs:   t.UTC().Truncate(time.Second).UnixMicro(),
		Timezone:  "Z",
		Precision: dtpb.DateTime_SECOND,
	}
}

// derivedID returns an id made of prefix and a hash of parts: the same
// parts always give the same id, and different parts practically never
// do. It is a valid FHIR id as long as prefix is (at most 64 characters).
func derivedID(prefix string, parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return prefix + hex.EncodeToString(h[:16])
}

// hashedID reports whether s is what derivedID appends to its prefix: 32
// lower-case hex digits.
func hashedID(s string) bool {
	if len(s) != 32 || strings.ToLower(s) != s {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// readableID returns s when it is a valid FHIR id of at most max
// characters, else derivedID(prefix, s).
func readableID(s string, max int, prefix string) string {
	if len(s) <= max && resource.ValidID(s) {
		return s
	}
	return derivedID(prefix, s)
}

// dateDay returns the calendar date of a FHIR date.
func dateDay(d *dtpb.Date) day {
	t := time.UnixMicro(d.GetValueUs()).In(resource.Zone(d.GetTimezone()))
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// dateOf builds a FHIR date of d.
func dateOf(d day) *dtpb.Date {
	return &dtpb.Date{ValueUs: d.UnixMicro(), Timezone: "UTC", Precision: dtpb.Date_DAY}
}
