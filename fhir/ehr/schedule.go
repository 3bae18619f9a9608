package ehr

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Run pulls each connection that has an interval, every interval, until
// ctx ends. Each replica may run it: the lease makes one of them pull a
// given EHR at a time, and the others skip that turn.
func (s *Syncer) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, name := range s.names {
		c := s.conns[name]
		if c.Interval <= 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.every(ctx, c)
		}()
	}
	wg.Wait()
}

func (s *Syncer) every(ctx context.Context, c *Connection) {
	t := time.NewTicker(c.Interval)
	defer t.Stop()
	for {
		_, err := s.Sync(ctx, c.Name, nil)
		if errors.Is(err, ErrBusy) {
			s.log.DebugContext(ctx, "ehr sync skipped: running elsewhere", "ehr", c.Name)
		}
		// Other errors are logged by Sync; the next turn resumes.
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
