package billing

import (
	"context"
	"errors"

	"github.com/fhirbill/fhirbill/fhir/resource"

	cpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/codes_go_proto"
	encpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/encounter_go_proto"
	invpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/invoice_go_proto"
)

// issuable refuses, with 422 naming Encounter.status, to issue an Invoice
// billing made whose Encounter is voided since it was billed: entered in
// error, cancelled, or deleted. $claim refuses such an Encounter (only a
// finished one is billed); issuing its draft would still send the
// patient a bill for a visit the record says did not happen. An Invoice
// a client made names no Encounter and is not checked.
func (b *Biller) issuable(ctx context.Context, inv *invpb.Invoice) error {
	encID := invoiceEncounter(inv)
	if encID == "" {
		return nil
	}
	r, _, err := b.records.Read(ctx, "Encounter", encID)
	switch {
	case errors.Is(err, resource.ErrNotFound) || errors.Is(err, resource.ErrDeleted):
		return unprocessable("Encounter.status", "Encounter/%s, the visit Invoice/%s bills, is deleted: "+
			"the Invoice is not issued; cancel it with $cancel", encID, inv.GetId().GetValue())
	case err != nil:
		return readError("Encounter", encID, err)
	}
	switch s := r.Proto().(*encpb.Encounter).GetStatus().GetValue(); s {
	case cpb.EncounterStatusCode_ENTERED_IN_ERROR, cpb.EncounterStatusCode_CANCELLED:
		return unprocessable("Encounter.status", "Encounter/%s, the visit Invoice/%s bills, is %s: "+
			"the Invoice is not issued; cancel it with $cancel", encID, inv.GetId().GetValue(),
			codeString(s.String()))
	}
	return nil
}
