package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/fhirbill/fhirbill/fhir/ehr"
	"github.com/fhirbill/fhirbill/fhir/resource"
)

// syncCmd is `fhirbill sync --ehr NAME`: one pull of one EHR connection,
// with a progress line per page and a summary at the end. Logs go to
// stderr.
type syncCmd struct {
	storeFlags
	ehrFlags
	EHR      string `name:"ehr" required:"" help:"Name of the connection to pull, as in --ehr-config."`
	Currency string `default:"USD" env:"FHIRBILL_CURRENCY" help:"ISO 4217 code of every amount billed."`
	NoBill   bool   `name:"no-bill" help:"Store what is pulled without billing the finished Encounters."`
}

// Run pulls until the EHR has nothing newer or ctx ends; a sync stopped
// part-way resumes where it stopped.
func (c *syncCmd) Run(ctx context.Context, stdout io.Writer, logOut logOutput) error {
	if c.EHRConfig == "" {
		return errors.New("--ehr-config (or FHIRBILL_EHR_CONFIG) names the connections file")
	}
	if !resource.ValidCurrency(c.Currency) {
		return fmt.Errorf("--currency %q: want an ISO 4217 code such as USD", c.Currency)
	}
	logger := newLogger(logOut, c.LogLevel)

	env, err := openAPI(ctx, c.storeFlags, logger)
	if err != nil {
		return err
	}
	defer env.close()
	api, st := env.api, env.st
	var bill ehr.BillFunc
	if !c.NoBill {
		b, err := startBilling(ctx, api, st, c.Currency, logger)
		if err != nil {
			return err
		}
		bill = billFunc(b)
	}
	conns, err := c.connections()
	if err != nil {
		return err
	}
	s, err := newSyncer(conns, api, st, bill, logger)
	if err != nil {
		return err
	}

	fmt.Fprintf(stdout, "sync %s: pulling\n", c.EHR)
	sum, err := s.Sync(ctx, c.EHR, func(p ehr.Summary) {
		fmt.Fprintf(stdout, "sync %s: page %d, pulled %d, stored %d, billed %d, skipped %d\n",
			c.EHR, p.Pages, p.PulledTotal(), p.Stored(), p.Billed, len(p.Skipped))
	})
	if sum != nil {
		sum.Write(stdout)
	}
	return err
}
