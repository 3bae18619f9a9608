package ehr

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"github.com/fhirbill/fhirbill/fhir/resource"
	"github.com/fhirbill/fhirbill/fhir/rest"
	"github.com/fhirbill/fhirbill/fhir/store"
)

// ErrNotAllowed is what a [BillFunc] given to [BillPushed] returns,
// wrapped, when the client that stored an Encounter may not bill it: the
// Encounter is then left unbilled, and the log says so at Info.
var ErrNotAllowed = errors.New("ehr: the client that stored the encounter may not bill it")

// pushBillTimeout bounds the billing of one pushed Encounter. Billing
// runs on after the client hangs up (the write stands, so its billing
// must not depend on the client waiting), but not forever on a store that
// stopped answering. It leaves room for billing's own 10 s of retries
// after lost races on the plan year's Account.
const pushBillTimeout = 30 * time.Second

// BillPushed returns the REST commit hook ([rest.Config.OnCommit]) that
// bills each finished Encounter a client stores: posted alone, put, or in
// a transaction Bundle with its Conditions and Procedures (the hook runs
// once the whole transaction is stored). Billing is not cut short when the
// client hangs up. A billing failure is logged at Warn with the
// Encounter's id, the status and the element billing names (ids and
// paths, never values); the write stands, the Encounter shows in
// `fhirbill report` as finished and not billed, and $bill can be asked
// for once the inputs are fixed or the store answers again. Nothing is
// retried in the background: billing already waits out lost races, a 422
// does not heal by itself, and a retry held in memory would be lost at
// the next restart, so the record of the failure is the report and the
// log.
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
			billCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), pushBillTimeout)
			err := bill(billCtx, rec.ID)
			cancel()
			if errors.Is(err, ErrNotAllowed) {
				logger.InfoContext(ctx, "pushed encounter not billed: its writer may not bill it",
					"encounter_id", rec.ID, "client_id", rest.ClientID(ctx), "reason", err.Error())
				continue
			}
			if err != nil {
				logger.WarnContext(ctx, "pushed encounter not billed", notBilledAttrs(rec.ID, err)...)
				continue
			}
			logger.InfoContext(ctx, "pushed encounter billed", "encounter_id", rec.ID)
		}
	}
}

// notBilledAttrs are the log attributes of a failed billing: the
// Encounter's id, the error, and for a client error its status and the
// element it names, so that the log says what to fix.
func notBilledAttrs(id string, err error) []any {
	attrs := []any{"encounter_id", id}
	var re *resource.Error
	if errors.As(err, &re) {
		attrs = append(attrs, "status", re.Status)
		if len(re.Issues) > 0 && len(re.Issues[0].Expression) > 0 {
			attrs = append(attrs, "expression", re.Issues[0].Expression[0])
		}
	}
	return append(attrs, "err", err)
}
