package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/fhirbill/fhirbill/billing"
	"github.com/fhirbill/fhirbill/fhir/ehr"
	"github.com/fhirbill/fhirbill/fhir/rest"
	"github.com/fhirbill/fhirbill/fhir/store"
)

// ehrFlags name the EHR connections file; serve and sync take them.
type ehrFlags struct {
	EHRConfig string `name:"ehr-config" env:"FHIRBILL_EHR_CONFIG" help:"JSON file of EHR connections to pull from (see README, 'Connecting an EHR'); private keys come from the files or environment variables it names." type:"existingfile"`
}

// billFunc adapts the Biller to the connector, which must not import
// billing.
func billFunc(b *billing.Biller) ehr.BillFunc {
	return func(ctx context.Context, encounterID string) error {
		_, err := b.Bill(ctx, encounterID)
		return err
	}
}

// connections loads the connections of f; none when no file is
// configured.
func (f *ehrFlags) connections() ([]*ehr.Connection, error) {
	if f.EHRConfig == "" {
		return nil, nil
	}
	conns, err := ehr.LoadConnections(f.EHRConfig, os.Getenv)
	if err != nil {
		return nil, fmt.Errorf("--ehr-config: %w", err)
	}
	return conns, nil
}

// newSyncer builds the syncer of conns over api and st; nil when there
// are none.
func newSyncer(
	conns []*ehr.Connection,
	api *rest.Server,
	st *store.Store,
	bill ehr.BillFunc,
	logger *slog.Logger,
) (*ehr.Syncer, error) {
	if len(conns) == 0 {
		return nil, nil
	}
	return ehr.NewSyncer(ehr.Config{Connections: conns, Records: api, State: st, Bill: bill, Logger: logger})
}

// startEHR bills the finished Encounters EHRs push (see pushBilling),
// and, with connections, registers $ehr-sync and starts the
// per-connection scheduler until ctx ends. It returns the syncer, nil
// without connections.
func startEHR(
	ctx context.Context,
	conns []*ehr.Connection,
	api *rest.Server,
	st *store.Store,
	b *billing.Biller,
	logger *slog.Logger,
) (*ehr.Syncer, error) {
	api.AddCommitHook(pushBilling(api, b, logger))
	s, err := newSyncer(conns, api, st, billFunc(b), logger)
	if err != nil || s == nil {
		return nil, err
	}
	api.RegisterOperation(s.Operation())
	go s.Run(ctx)
	for _, name := range s.Connections() {
		c := s.Connection(name)
		logger.Info("ehr connection", "ehr", name, "base", c.Base, "interval", c.Interval.String(), "key", c.Key())
	}
	return s, nil
}

// pushBilling is the commit hook that bills the finished Encounters
// clients store, as a $bill by the client would: only when the client
// may invoke $bill on the Encounter, and then with $bill's writes held to
// the client's access (rest.Server.AuthorizeOperation). A client that may
// write Encounters but not bill them leaves them unbilled.
func pushBilling(api *rest.Server, b *billing.Biller, logger *slog.Logger) rest.CommitHook {
	return ehr.BillPushed(func(ctx context.Context, encounterID string) error {
		ctx, err := api.AuthorizeOperation(ctx, "bill", "Encounter", encounterID)
		if err != nil {
			return fmt.Errorf("%w: %w", ehr.ErrNotAllowed, err)
		}
		_, err = b.Bill(ctx, encounterID)
		return err
	}, logger)
}
