package ehr

import (
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"time"
)

// Summary counts what a sync did.
type Summary struct {
	Connection string
	// Pages is the number of Encounter pages stored.
	Pages int
	// Pulled counts the resources received from the EHR, by type.
	Pulled map[string]int
	// Created, Updated and Unchanged count what was stored: new in
	// fhirbill, a new version, or equal to the stored version.
	Created, Updated, Unchanged int
	// Billed counts the finished Encounters billed.
	Billed int
	// Skipped lists what was not stored (or not billed), and why.
	Skipped []Skip
	// Watermark is the EHR's lastUpdated the next sync starts after.
	Watermark time.Time
	Duration  time.Duration
}

// Skip is a resource of the EHR not stored, or an Encounter not billed.
type Skip struct {
	// Ref names it at the EHR: Encounter/123, or the search that failed.
	Ref string
	// Reason says why, without values from the resource.
	Reason string
}

// Stored is the number of resources created or updated.
func (s *Summary) Stored() int { return s.Created + s.Updated }

// PulledTotal is the number of resources received.
func (s *Summary) PulledTotal() int {
	n := 0
	for _, v := range s.Pulled {
		n += v
	}
	return n
}

// SkipReasons counts the skips by reason.
func (s *Summary) SkipReasons() map[string]int {
	out := map[string]int{}
	for _, sk := range s.Skipped {
		out[sk.Reason]++
	}
	return out
}

// copy returns a copy safe to hand to a progress callback.
func (s *Summary) copy() Summary {
	c := *s
	c.Pulled = make(map[string]int, len(s.Pulled))
	for k, v := range s.Pulled {
		c.Pulled[k] = v
	}
	c.Skipped = append([]Skip(nil), s.Skipped...)
	return c
}

func (s *Summary) logAttrs() []any {
	return []any{
		slog.Int("pages", s.Pages), slog.Int("pulled", s.PulledTotal()),
		slog.Int("created", s.Created), slog.Int("updated", s.Updated),
		slog.Int("unchanged", s.Unchanged), slog.Int("billed", s.Billed),
		slog.Int("skipped", len(s.Skipped)), slog.Time("watermark", s.Watermark),
	}
}

// Write prints the summary for a person: counts, then the skips grouped
// by reason with a few examples each.
func (s *Summary) Write(w io.Writer) {
	types := make([]string, 0, len(s.Pulled))
	for t := range s.Pulled {
		types = append(types, t)
	}
	sort.Strings(types)
	var byType []string
	for _, t := range types {
		byType = append(byType, fmt.Sprintf("%s %d", t, s.Pulled[t]))
	}
	fmt.Fprintf(w, "ehr %s: pulled %d (%s), stored %d (created %d, updated %d), unchanged %d, billed %d, skipped %d, in %s\n",
		s.Connection, s.PulledTotal(), strings.Join(byType, ", "), s.Stored(), s.Created, s.Updated,
		s.Unchanged, s.Billed, len(s.Skipped), s.Duration.Round(time.Millisecond))
	if !s.Watermark.IsZero() {
		fmt.Fprintf(w, "  watermark: %s\n", s.Watermark.Format(time.RFC3339Nano))
	}
	reasons := s.SkipReasons()
	keys := make([]string, 0, len(reasons))
	for k := range reasons {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		var ex []string
		for _, sk := range s.Skipped {
			if sk.Reason == k && len(ex) < 3 {
				ex = append(ex, sk.Ref)
			}
		}
		fmt.Fprintf(w, "  skipped %d: %s (e.g. %s)\n", reasons[k], k, strings.Join(ex, ", "))
	}
}
