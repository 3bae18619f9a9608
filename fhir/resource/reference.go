package resource

import (
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
			"a conditional reference (%s?search) is resolved only in a transaction; "+
				"refer to the resource by its id", typ)
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

// localRoots are the resources a walk is inside, outermost first: the
// resource walked and the resources of Bundle entries or Parameters within
// it, not contained ones, whose local references name their container's
// contained resources (ref-1). The walk is depth first, so a root the walk
// has left is the last one, and is dropped when a path is not under it.
type localRoots []localRoot

type localRoot struct {
	m    protoreflect.Message
	path string
	ids  map[string]bool // the ids of m's contained resources; nil until asked
}

// push enters the resource m at path.
func (rs *localRoots) push(m protoreflect.Message, path string) {
	*rs = append(*rs, localRoot{m: m, path: path})
}

// check applies ref-1 to the Reference r at path: "#id" names one of the
// contained resources of the resource r is in, and "#" is only inside a
// contained resource, for its container.
func (rs *localRoots) check(r *dtpb.Reference, path string) error {
	f := r.GetFragment()
	if f == nil {
		return nil
	}
	for len(*rs) > 0 && !under(path, (*rs)[len(*rs)-1].path) {
		*rs = (*rs)[:len(*rs)-1]
	}
	if len(*rs) == 0 {
		return nil
	}
	root := &(*rs)[len(*rs)-1]
	switch id := f.GetValue(); {
	case id == "":
		if !strings.HasPrefix(path, root.path+".contained[") {
			return Errorf(http.StatusBadRequest, IssueInvariant, path+".reference",
				"\"#\" refers to the container of a contained resource; this reference is not in one")
		}
	default:
		if root.ids == nil {
			root.ids = containedIDs(root.m)
		}
		if !root.ids[id] {
			return Errorf(http.StatusBadRequest, IssueInvariant, path+".reference",
				"the reference \"#%s\" names no contained resource (invariant ref-1)", trim(id))
		}
	}
	return nil
}

// under reports whether path is root or an element inside it.
func under(path, root string) bool {
	return strings.HasPrefix(path, root) &&
		(len(path) == len(root) || path[len(root)] == '.' || path[len(root)] == '[')
}

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

// containedAt reports whether path names a contained resource,
// X.contained[n].
func containedAt(path string) bool {
	i := strings.LastIndex(path, ".contained[")
	return i >= 0 && strings.HasSuffix(path, "]") &&
		!strings.ContainsAny(path[i+len(".contained["):len(path)-1], ".[")
}
