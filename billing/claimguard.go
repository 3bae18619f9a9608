package billing

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/fhirbill/fhirbill/fhir/resource"

	dtpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	claimpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/claim_go_proto"
	crpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/claim_response_go_proto"
)

// CheckClaimWrite vets a client's update (next) or delete (next nil) of
// a stored Claim. A Claim fhirbill's claim operations stored changes only
// through them: [Biller.BuildClaim] ($claim) builds it again from its
// Invoice, and [Biller.Submit] ($submit) takes a corrected Claim under its
// identifier until the payer adjudicated it; it is not deleted. A plain
// write would skip the scrubber, and, once the payer answered, rewrite
// the claim the payer decided on.
//
// Such a Claim is known by what a client cannot edit away, since its
// updates are refused: its id is the one the operations gave it, named
// by its identifier of [SystemClaimID] ($claim) or derived from its first
// identifier ($submit). The check cannot see whether the payer answered
// (that is in the ClaimResponse, and a write check reads nothing), so it
// holds from the first store; the operations give every change a biller
// needs before that. A write that changes nothing passes. Refusals are
// 409 Conflict naming the Claim. Any other Claim is the client's, but
// takes no identifier of [SystemClaimID] (422, see [CheckClaimCreate]).
func CheckClaimWrite(old, next *resource.Resource) error {
	c, ok := old.Proto().(*claimpb.Claim)
	if !ok {
		return nil
	}
	if !operationClaim(c) {
		if next == nil {
			return nil
		}
		if n, ok := next.Proto().(*claimpb.Claim); ok {
			return ownIdentifier(n)
		}
		return nil
	}
	if same, err := sameBesidesMeta(old, next); err != nil || same {
		return err
	}
	return conflict("Claim", "Claim/%s was stored by fhirbill's claim operations and changes only "+
		"through them: $claim builds it again from its Invoice, $submit takes a corrected Claim "+
		"under its identifier until the payer adjudicated it; it is not deleted", c.GetId().GetValue())
}

// CheckClaimResponseWrite vets a client's update or delete of a stored
// ClaimResponse. The ClaimResponse at the id fhirbill gives the answer to
// a Claim (responseID of its request) changes only through $submit (the
// front end's answer) and Claim/[id]/$remit (the payer's adjudication,
// applied to the Invoice in the same commit): a payer posting its answer
// by PUT would leave the Invoice as it was, and a client rewriting or
// deleting an adjudication would undo what the Invoice shows. A write
// that changes nothing passes. Refusals are 409 Conflict naming the
// ClaimResponse.
func CheckClaimResponseWrite(old, next *resource.Resource) error {
	cr, ok := old.Proto().(*crpb.ClaimResponse)
	if !ok {
		return nil
	}
	claim := refID(cr.GetRequest(), "Claim")
	if claim == "" || responseID(claim) != cr.GetId().GetValue() {
		return nil
	}
	if same, err := sameBesidesMeta(old, next); err != nil || same {
		return err
	}
	return conflict("ClaimResponse", "ClaimResponse/%s is fhirbill's answer to Claim/%s and changes "+
		"only through $submit and Claim/%s/$remit, where a payer posts its adjudication; "+
		"it is not deleted", cr.GetId().GetValue(), claim, claim)
}

// CheckClaimCreate vets a client's create of a Claim. The ids fhirbill's
// claim operations give Claims ("<encounter>-claim-<coverage>" for
// $claim, "claim-" and a hash for a long one and for $submit) and the
// identifier system naming them ([SystemClaimID]) are fhirbill's: a
// Claim a client put at such an id first is taken for the one $claim
// built ($claim keeps its created date, $submit of it freezes it as
// submitted, its updates are refused as that Claim's), and one carrying
// such an identifier is the Claim $submit finds by it, which then stores
// the real Claim and its answer at the client's id. A create at such an
// id is a 409 naming the Claim, one carrying such an identifier a 422
// naming it.
func CheckClaimCreate(_ context.Context, r *resource.Resource) error {
	c, ok := r.Proto().(*claimpb.Claim)
	if !ok {
		return nil
	}
	if id := c.GetId().GetValue(); operationClaimID(id) {
		return conflict("Claim", "Claim/%s is an id fhirbill's claim operations give a Claim: "+
			"$claim builds it from the Encounter's Invoice, $submit stores a Claim under the id "+
			"derived from its identifier", id)
	}
	return ownIdentifier(c)
}

// ownIdentifier refuses, with 422, a client's Claim carrying an
// identifier of SystemClaimID, which only fhirbill's operations give.
func ownIdentifier(c *claimpb.Claim) error {
	return reservedIdentifier("Claim", c.GetIdentifier(), SystemClaimID, "the Claims fhirbill's claim operations build")
}

// reservedIdentifier refuses, with 422 naming the element, a client's
// resource of type typ whose identifiers use system, which fhirbill
// gives only to what names: the mark by which it knows its own records.
func reservedIdentifier(typ string, ids []*dtpb.Identifier, system, names string) error {
	for i, id := range ids {
		if id.GetSystem().GetValue() == system {
			return unprocessable(fmt.Sprintf("%s.identifier[%d]", typ, i), "identifiers of system %s "+
				"name %s, and only fhirbill gives them; give the %s an identifier of your own system",
				system, names, typ)
		}
	}
	return nil
}

// operationClaimID reports whether id is one fhirbill's claim operations
// give a Claim: claimID's "<encounter>-claim-<coverage>", or "claim-" and
// the hash of derivedID (claimID's for a long id, $submit's).
func operationClaimID(id string) bool {
	if h, ok := strings.CutPrefix(id, "claim-"); ok && hashedID(h) {
		return true
	}
	i := strings.Index(id, "-claim-")
	return i > 0 && i+len("-claim-") < len(id)
}

// answerID reports whether id is one responseID gives the answer to some
// Claim: "<claim>-response", or "cr-" and the hash of derivedID.
func answerID(id string) bool {
	if h, ok := strings.CutPrefix(id, "cr-"); ok && hashedID(h) {
		return true
	}
	claim, ok := strings.CutSuffix(id, "-response")
	return ok && claim != ""
}

// operationClaim reports whether $claim or $submit stored c: its id is
// the one they give it.
func operationClaim(c *claimpb.Claim) bool {
	id := c.GetId().GetValue()
	if identifierValue(c, SystemClaimID) == id {
		return true
	}
	ids := c.GetIdentifier()
	return len(ids) > 0 &&
		derivedID("claim-", ids[0].GetSystem().GetValue(), ids[0].GetValue().GetValue()) == id
}

// sameBesidesMeta reports whether next (nil: a delete) prints as old does
// but for meta, which the server sets.
func sameBesidesMeta(old, next *resource.Resource) (bool, error) {
	if next == nil {
		return false, nil
	}
	var out [2][]byte
	for i, r := range []*resource.Resource{old, next} {
		m := proto.Clone(r.Proto())
		pr := m.ProtoReflect()
		pr.Clear(pr.Descriptor().Fields().ByName(protoreflect.Name("meta")))
		c, err := resource.FromProto(m)
		if err != nil {
			return false, err
		}
		if out[i], err = c.Marshal(); err != nil {
			return false, err
		}
	}
	return bytes.Equal(out[0], out[1]), nil
}

// CheckClaimResponseCreate vets a client's create of a ClaimResponse. A
// ClaimResponse at an id fhirbill could give a Claim's answer
// ("<claim>-response", or "cr-" and a hash: responseID of any Claim,
// whatever its request names) is refused with 409 naming the
// ClaimResponse, as its updates are ([CheckClaimResponseWrite]): put
// there before $submit, it would be taken for the Claim's answer.
//
// A payer's adjudication (outcome complete or partial) of a Claim at an
// id fhirbill's claim operations give ([operationClaimID]; clients
// cannot create Claims there) is refused with 422, naming
// Claim/[id]/$remit: there it is checked against the Claim and applied
// to the Invoice in one commit, while stored on its own it would change
// no Invoice, an answer accepted and then lost. The Claim is the one
// request names: by reference, relative (Claim/[id]) or absolute
// (ending in /Claim/[id]), with or without /_history/[version], or by
// an identifier of [SystemClaimID]. The check reads nothing: whether
// such a Claim exists, or is one the caller may see, makes no
// difference, so the answer tells nothing about Claims the caller
// cannot read. Any other ClaimResponse is stored as sent.
func CheckClaimResponseCreate(_ context.Context, r *resource.Resource) error {
	cr, ok := r.Proto().(*crpb.ClaimResponse)
	if !ok {
		return nil
	}
	if id := cr.GetId().GetValue(); answerID(id) {
		return conflict("ClaimResponse", "ClaimResponse/%s is an id fhirbill keeps for the answer to a "+
			"Claim, written only by $submit and Claim/[id]/$remit, where a payer posts its adjudication", id)
	}
	if !adjudicated(cr) {
		return nil
	}
	for _, claim := range requestClaimIDs(cr.GetRequest()) {
		if operationClaimID(claim) {
			return unprocessable("ClaimResponse.request", "Claim/%s is a Claim fhirbill's claim "+
				"operations submit: post the payer's adjudication to Claim/%s/$remit, which applies it "+
				"to the patient's Invoice; stored on its own it would change nothing", claim, claim)
		}
	}
	return nil
}

// requestClaimIDs lists the Claim ids a ClaimResponse.request names: the
// id of its reference (Claim/[id], or an absolute URL ending in
// /Claim/[id], either with /_history/[version]) and the value of its
// identifier when of SystemClaimID.
func requestClaimIDs(req *dtpb.Reference) []string {
	var ids []string
	s := refString(req)
	if i := strings.LastIndex(s, "/_history/"); i >= 0 {
		s = s[:i]
	}
	id, ok := strings.CutPrefix(s, "Claim/")
	if i := strings.LastIndex(s, "/Claim/"); !ok && i >= 0 && strings.Contains(s[:i], "://") {
		id, ok = s[i+len("/Claim/"):], true
	}
	if ok && resource.ValidID(id) {
		ids = append(ids, id)
	}
	if in := req.GetIdentifier(); in.GetSystem().GetValue() == SystemClaimID {
		ids = append(ids, in.GetValue().GetValue())
	}
	return ids
}
