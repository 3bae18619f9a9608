package ehr

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"

	"github.com/fhirbill/fhirbill/fhir/rest"
	"github.com/fhirbill/fhirbill/fhir/store"
)

// ErrNotAllowed is what a [BillFunc] given to [BillPushed] returns,
// wrapped, when the client that stored an Encounter may not bill it: the
// Encounter is then left unbilled, and the log says so at Info.
var ErrNotAllowed = errors.New("ehr: the client that stored the encounter may not bill it")

// BillPushed returns the REST commit hook ([rest.Config.OnCommit]) that
// bills each finished Encounter a client stores: posted alone, put, or in
// a transaction Bundle with its Conditions and Procedures (the hook runs
// once the whole transaction is stored). A billing failure is logged; the
// write stands, and $bill can be asked for later.
func BillPushed(bill BillFunc, logger *slog.Logger) rest.CommitHook {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return func(ctx context.Context, recs []*store.Record) {
		for _, rec := range recs {
			if rec.Type != "Encounter" || rec.Deleted {
				continue
			}
			var enc struct {
				Status string `json:"status"`
			}
			if json.Unmarshal(rec.Body, &enc) != nil || enc.Status != "finished" {
				continue
			}
			err := bill(ctx, rec.ID)
			if errors.Is(err, ErrNotAllowed) {
				logger.InfoContext(ctx, "pushed encounter not billed: its writer may not bill it",
					"encounter_id", rec.ID, "client_id", rest.ClientID(ctx), "reason", err.Error())
				continue
			}
			if err != nil {
				logger.WarnContext(ctx, "pushed encounter not billed", "encounter_id", rec.ID, "err", err)
				continue
			}
			logger.InfoContext(ctx, "pushed encounter billed", "encounter_id", rec.ID)
		}
	}
}
