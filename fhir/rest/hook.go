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

// AddCommitHook adds h to the hooks told of every client write, in the
// order added. Like [Server.RegisterOperation], it is for start-up, before
// the server serves: a hook often needs what is built on the server (the
// biller of a finished Encounter, say).
func (s *Server) AddCommitHook(h CommitHook) {
	s.onCommit = append(s.onCommit, h)
}

// committed runs the commit hooks on the records a client stored.
func (s *Server) committed(ctx context.Context, recs ...*store.Record) {
	if len(recs) == 0 {
		return
	}
	for _, h := range s.onCommit {
		h(ctx, recs)
	}
}
