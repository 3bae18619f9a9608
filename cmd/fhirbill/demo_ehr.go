package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/fhirbill/fhirbill/fhir/ehr"
	"github.com/fhirbill/fhirbill/fhir/ehr/ehrtest"
)

// The demo's EHR connection: its name (in meta.source and in the ids of
// what fhirbill pulls, so it stays the same from run to run) and
// fhirbill's client id at the test EHR.
const (
	demoConnection = "demo"
	demoClientID   = "fhirbill"
)

// demoEHR is the test EHR the demo runs in-process, and the connection
// fhirbill pulls it with.
type demoEHR struct {
	srv  *ehrtest.Server
	hs   *http.Server
	conn *ehr.Connection
	done chan struct{}
}

// startDemoEHR serves the test EHR on listen with the bundles of dir,
// makes fhirbill's backend-services key pair in memory and registers its
// public key, as `fhirbill testehr` does without writing any file.
func startDemoEHR(listen, dir string, logger *slog.Logger) (*demoEHR, error) {
	srv := ehrtest.New(logger)
	files, _, err := srv.LoadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("sample EHR bundles: %w", err)
	}
	if files == 0 || srv.Count("Encounter") == 0 {
		return nil, fmt.Errorf("sample EHR bundles: no Encounters in %s", dir)
	}

	pk, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		return nil, err
	}
	key, err := ehr.NewKey(pk, "")
	if err != nil {
		return nil, err
	}
	srv.RegisterClient(ehrtest.Client{ID: demoClientID, Key: &pk.PublicKey, KeyID: key.KeyID()})

	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("test EHR: listen: %w", err)
	}
	srv.SetURL("http://" + ln.Addr().String())
	// Pulled only when asked (the demo syncs once, $ehr-sync again).
	conn, err := ehr.NewConnection(ehr.Connection{
		Name: demoConnection, Base: srv.Base(), ClientID: demoClientID}, key)
	if err != nil {
		ln.Close()
		return nil, err
	}

	e := &demoEHR{srv: srv, conn: conn, done: make(chan struct{}),
		hs: &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second,
			ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}}
	go func() {
		defer close(e.done)
		if err := e.hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			logger.Error("test EHR stopped", "err", err)
		}
	}()
	return e, nil
}

// encounters lists the ids in fhirbill of the EHR's Encounters, in the
// EHR's id order (the sample ids sort by patient, then date).
func (e *demoEHR) encounters() []string {
	var out []string
	for _, id := range e.srv.IDs("Encounter") {
		out = append(out, ehr.LocalID(demoConnection, "Encounter", id))
	}
	return out
}

// close stops the test EHR, waiting at most 5 seconds for requests in
// flight.
func (e *demoEHR) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = e.hs.Shutdown(ctx) // only the demo's own pulls use it
	<-e.done
}
