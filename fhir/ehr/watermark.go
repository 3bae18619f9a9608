package ehr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/fhirbill/fhirbill/fhir/resource"
)

// watermark is how far a connection has pulled: every Encounter the EHR
// last updated before Time is stored. IDs are the Encounters updated at
// exactly Time that are stored too: the EHR stamps many resources in the
// same millisecond, and a page may end among them, so a sync resumed
// mid-way asks for _lastUpdated=ge[Time] and leaves those out. A sync that
// reaches the last page clears IDs, and the next one asks for gt[Time].
type watermark struct {
	Time time.Time `json:"time"`
	IDs  []string  `json:"ids,omitempty"`
}

func watermarkName(conn string) string { return "ehr-watermark/" + conn }

func loadWatermark(ctx context.Context, st State, conn string) (watermark, error) {
	var w watermark
	data, _, err := st.GetBlob(ctx, watermarkName(conn))
	if errors.Is(err, resource.ErrNotFound) {
		return w, nil
	}
	if err != nil {
		return w, fmt.Errorf("load watermark: %w", err)
	}
	if err := json.Unmarshal(data, &w); err != nil {
		return w, fmt.Errorf("load watermark: %w", err)
	}
	return w, nil
}

func saveWatermark(ctx context.Context, st State, conn string, w watermark, now time.Time) error {
	data, err := json.Marshal(w)
	if err != nil {
		return fmt.Errorf("save watermark: %w", err)
	}
	if err := st.PutBlob(ctx, watermarkName(conn), data, now); err != nil {
		return fmt.Errorf("save watermark: %w", err)
	}
	return nil
}

// advance moves w past an Encounter stored with lastUpdated t.
func (w *watermark) advance(t time.Time, id string) {
	switch {
	case t.After(w.Time):
		w.Time, w.IDs = t, []string{id}
	case t.Equal(w.Time):
		w.IDs = append(w.IDs, id)
	}
}

// seen reports whether an Encounter at t is already stored.
func (w *watermark) seen(t time.Time, id string) bool {
	if !t.Equal(w.Time) {
		return t.Before(w.Time)
	}
	for _, x := range w.IDs {
		if x == id {
			return true
		}
	}
	return false
}
