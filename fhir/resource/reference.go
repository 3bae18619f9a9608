package resource

import (
	"github.com/google/fhir/go/jsonformat"
	"google.golang.org/protobuf/proto"

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
