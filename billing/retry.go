package billing

import (
	"context"
	"errors"
	"time"

	"github.com/cenkalti/backoff/v5"

	"github.com/fhirbill/fhirbill/fhir/resource"
)

// How long billing computes again after losing races on a version
// (resource.ErrConflict). Every Encounter of one Coverage and plan year
// writes the same accumulator Account, so twenty visits of one patient
// billed at once (an EHR pushing a day's work) commit one after the
// other: each loser starts over from the winner's totals. A bound on
// attempts gave up after some 30 ms, long before the last of them had its
// turn; a bound on time, like the REST layer's for a write without
// If-Match (fhir/rest, retryFor), lets them all through. The pauses grow
// and are random (±50 %), so that the losers spread out rather than race
// again in step.
const (
	retryFor   = 10 * time.Second
	firstPause = 5 * time.Millisecond
	maxPause   = 200 * time.Millisecond
)

// retryConflicts runs op until it succeeds, fails with an error that is
// not a version conflict, ctx ends, or retryFor has passed; then it
// returns op's last result and error and the number of attempts made.
func retryConflicts[T any](ctx context.Context, op func() (T, error)) (T, int, error) {
	attempts := 0
	exp := &backoff.ExponentialBackOff{
		InitialInterval:     firstPause,
		RandomizationFactor: backoff.DefaultRandomizationFactor,
		Multiplier:          2,
		MaxInterval:         maxPause,
	}
	res, err := backoff.Retry(ctx, func() (T, error) {
		attempts++
		res, err := op()
		if err != nil && !errors.Is(err, resource.ErrConflict) {
			return res, backoff.Permanent(err)
		}
		return res, err
	}, backoff.WithBackOff(exp), backoff.WithMaxElapsedTime(retryFor))
	return res, attempts, err
}
