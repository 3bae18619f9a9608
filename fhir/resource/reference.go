package resource

import (
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/google/fhir/go/jsonformat"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	dtpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
)

// ReferenceString returns the literal reference of r as JSON writes it
// ("Patient/p1", or a URL as given), or "" when r has none: an
// identifier-only or a contained ("#id") reference. jsonformat keeps a
// relative reference as a typed id, which this turns back into text.
func ReferenceString(r *dtpb.Reference) string {
	if r == nil {
		return ""
	}
	if u := r.GetUri(); u != nil {
		return u.GetValue()
	}
	if r.GetFragment() != nil || r.GetReference() == nil {
		return ""
	}
	c := proto.Clone(r).(*dtpb.Reference)
	if err := jsonformat.DenormalizeReference(c); err != nil {
		return ""
	}
	return c.GetUri().GetValue()
}

// Reference.reference is checked here as R4 defines it
// (https://hl7.org/fhir/R4/references.html#Reference): a relative URL
// Type/id or Type/id/_history/vid, with an R4 resource type and ids of the
// id syntax; an absolute URL; or "#id" naming a contained resource (ref-1),
// "#" only in a contained resource, for its container
// (https://hl7.org/fhir/R4/references.html#contained). jsonformat keeps a
// Type/id it recognises as a typed id without checking the id
// ("Patient/a b"), a "#id" as a fragment, and anything else as a uri.
// A conditional reference (Type?search) is refused: a transaction resolves
// it to the one match before the resource is parsed
// (https://hl7.org/fhir/R4/http.html#trules), and anywhere else it would
// be kept as a reference to nothing.

// The forms of uuid and oid (https://hl7.org/fhir/R4/datatypes.html#uuid,
// #oid). R4 has senders write a UUID in lower case and receivers read it
// case-insensitively, so upper case is taken.
var (
	uuidURN = regexp.MustCompile(`^urn:uuid:(?i)[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	oidURN  = regexp.MustCompile(`^urn:oid:[0-2](\.(0|[1-9][0-9]*))+$`)
)

// CheckURN refuses, with a 400 naming path, a urn:uuid: that does not
// hold a UUID or a urn:oid: that does not hold an OID; any other value is
// not its business.
func CheckURN(s, path string) error {
	switch {
	case strings.HasPrefix(s, "urn:uuid:") && !uuidURN.MatchString(s):
		return Errorf(http.StatusBadRequest, IssueInvalid, path,
			"a urn:uuid: must hold a UUID (urn:uuid:c757873d-ec9a-4326-a141-556f43239520)")
	case strings.HasPrefix(s, "urn:oid:") && !oidURN.MatchString(s):
		return Errorf(http.StatusBadRequest, IssueInvalid, path, "a urn:oid: must hold an OID (urn:oid:1.2.3.4.5)")
	}
	return nil
}

// checkReference checks the form of the literal reference of r, the
// Reference at path. Fragments are checked with their container
// (checkLocalReferences).
func checkReference(r *dtpb.Reference, path string) error {
	at := path + ".reference"
	if u := r.GetUri(); u != nil {
		return checkReferenceURI(u.GetValue(), at)
	}
	m := r.ProtoReflect()
	f := m.WhichOneof(m.Descriptor().Oneofs().ByName("reference"))
	if f == nil {
		return nil
	}
	id, ok := m.Get(f).Message().Interface().(*dtpb.ReferenceId)
	if !ok {
		return nil // a fragment
	}
	// jsonformat checks the version (see parseError), not the id.
	if !ValidID(id.GetValue()) {
		return Errorf(http.StatusBadRequest, IssueInvalid, at,
			"the id of a Type/id reference must be 1-64 of A-Z a-z 0-9 - .")
	}
	return nil
}

// checkReferenceURI checks a reference jsonformat did not recognise as
// Type/id or #id: it must be an absolute URL.
func checkReferenceURI(s, at string) error {
	if typ, _, ok := strings.Cut(s, "?"); ok && Known(typ) {
		return Errorf(http.StatusBadRequest, IssueNotSupported, at,
			"a conditional reference (%s?search) is resolved only in a transaction; refer to the resource by its id", typ)
	}
	if strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return Errorf(http.StatusBadRequest, IssueInvalid, at,
			"a reference may not contain white space or control characters; escape a space as %%20")
	}
	u, err := url.Parse(s)
	if err != nil || !u.IsAbs() {
		return Errorf(http.StatusBadRequest, IssueInvalid, at,
			"a reference is Type/id or Type/id/_history/vid with an R4 resource type and a valid id, "+
				"an absolute URL, or #id naming a contained resource")
	}
	if (u.Scheme == "http" || u.Scheme == "https") && u.Host == "" {
		return Errorf(http.StatusBadRequest, IssueInvalid, at, "an http(s) reference needs a host")
	}
	return CheckURN(s, at)
}

// checkLocalReferences applies ref-1 to the resource root at path (not a
// contained one) and the resources it contains: "#id" names one of root's
// contained resources, and "#" appears only inside one of them. The
// resources of a Bundle's entries or a Parameters inside root are resources
// of their own, checked on their own.
func checkLocalReferences(root protoreflect.Message, path string) error {
	ids := containedIDs(root)
	inContained := path + ".contained["
	return walk(root, path, func(m protoreflect.Message, p string) error {
		if p != path && isResource(m) && !containedAt(p) {
			return errSkip
		}
		r, ok := m.Interface().(*dtpb.Reference)
		if !ok || r.GetFragment() == nil {
			return nil
		}
		switch id := r.GetFragment().GetValue(); {
		case id == "" && !strings.HasPrefix(p, inContained):
			return Errorf(http.StatusBadRequest, IssueInvariant, p+".reference",
				"\"#\" refers to the container of a contained resource; this reference is not in one")
		case id != "" && !ids[id]:
			return Errorf(http.StatusBadRequest, IssueInvariant, p+".reference",
				"the reference \"#%s\" names no contained resource (invariant ref-1)", trim(id))
		}
		return nil
	})
}

// errSkip, returned by a visitFunc, leaves out what is inside the message.
var errSkip = errors.New("skip")

// containedIDs returns the ids of the contained resources of m.
func containedIDs(m protoreflect.Message) map[string]bool {
	ids := make(map[string]bool)
	f := m.Descriptor().Fields().ByName("contained")
	if f == nil || !f.IsList() || !m.Has(f) {
		return ids
	}
	l := m.Get(f).List()
	for i := 0; i < l.Len(); i++ {
		r := resourceIn(l.Get(i).Message())
		if idf := r.Descriptor().Fields().ByName("id"); idf != nil && r.Has(idf) {
			if id, ok := r.Get(idf).Message().Interface().(*dtpb.Id); ok {
				ids[id.GetValue()] = true
			}
		}
	}
	return ids
}

// isResource reports whether m is a resource, not a datatype or element.
func isResource(m protoreflect.Message) bool {
	codec()
	f, ok := typeFields[string(m.Descriptor().Name())]
	return ok && f.Message().FullName() == m.Descriptor().FullName()
}

// containedAt reports whether path names a contained resource,
// X.contained[n].
func containedAt(path string) bool {
	i := strings.LastIndex(path, ".contained[")
	return i >= 0 && strings.HasSuffix(path, "]") &&
		!strings.ContainsAny(path[i+len(".contained["):len(path)-1], ".[")
}
