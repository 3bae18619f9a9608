package rest

import (
	"context"

	"github.com/fhirbill/fhirbill/fhir/store"
)

// CommitHook is told of the versions a client's write stored: a create,
// update, conditional update, delete or batch entry (one record), or a
// whole transaction (all its records). It runs synchronously after the
// store has the write and before the client gets its answer, so its work
// (billing a finished Encounter, say) is done when the client reads on.
// The write stands whatever the hook does: it reports its own failures.
//
// Server-side writes through [Server.Commit] are not reported: their
// caller (the EHR connector, billing) knows what it stored.
type CommitHook func(ctx context.Context, recs []*store.Record)

// committed runs the commit hook, if any, on the records a client stored.
func (s *Server) committed(ctx context.Context, recs ...*store.Record) {
	if s.onCommit == nil || len(recs) == 0 {
		return
	}
	s.onCommit(ctx, recs)
}
