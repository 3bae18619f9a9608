package ehr

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/cenkalti/backoff/v5"
)

// Retry bounds how a request to an EHR is retried: 429 and 503 after the
// Retry-After the EHR gives, other 5xx and network errors with
// exponential backoff and jitter. Zero fields take the defaults.
type Retry struct {
	// Initial is the first backoff interval (default 500 ms); it grows
	// 1.5 times per retry, with ±50 % jitter, up to Max (default 30 s).
	Initial, Max time.Duration
	// Tries is the most attempts of one request (default 6).
	Tries uint
	// Elapsed bounds the time spent on one request (default 5 min).
	Elapsed time.Duration
	// MaxRetryAfter caps a Retry-After the EHR asks for (default 2 min).
	MaxRetryAfter time.Duration
}

func (r Retry) withDefaults() Retry {
	if r.Initial <= 0 {
		r.Initial = 500 * time.Millisecond
	}
	if r.Max <= 0 {
		r.Max = 30 * time.Second
	}
	if r.Tries == 0 {
		r.Tries = 6
	}
	if r.Elapsed <= 0 {
		r.Elapsed = 5 * time.Minute
	}
	if r.MaxRetryAfter <= 0 {
		r.MaxRetryAfter = 2 * time.Minute
	}
	return r
}

// StatusError is an answer from the EHR that is not a success, after
// retries. It never holds the body, which may echo patient data.
type StatusError struct {
	Status int
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("the EHR answered %d %s", e.Status, http.StatusText(e.Status))
}

// maxAnswer bounds what is read of one answer: a page of a search.
const maxAnswer = 64 << 20

// fetcher sends requests to one EHR with retries. It follows no
// redirects: requests go only where the caller says.
type fetcher struct {
	client *http.Client
	retry  Retry
}

func newFetcher(c *http.Client, r Retry) *fetcher {
	if c == nil {
		c = &http.Client{Timeout: time.Minute}
	}
	cc := *c
	cc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &fetcher{client: &cc, retry: r.withDefaults()}
}

// do sends method to u and returns the body of a 2xx answer. body, when
// not nil, makes a form-encoded body for each attempt. tokens, when not
// nil, authorizes the request; a 401 gets one new token and one more try.
func (f *fetcher) do(
	ctx context.Context,
	method, u string,
	body func() ([]byte, error),
	tokens *TokenSource,
) ([]byte, error) {
	renewed := false
	attempt := func() ([]byte, error) {
		var rd io.Reader
		if body != nil {
			b, err := body()
			if err != nil {
				return nil, backoff.Permanent(err)
			}
			rd = bytes.NewReader(b)
		}
		req, err := http.NewRequestWithContext(ctx, method, u, rd)
		if err != nil {
			return nil, backoff.Permanent(fmt.Errorf("new request: %w", err))
		}
		req.Header.Set("Accept", "application/fhir+json, application/json")
		if body != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		var token string
		if tokens != nil {
			if token, err = tokens.Token(ctx); err != nil {
				return nil, backoff.Permanent(err)
			}
			req.Header.Set("Authorization", "Bearer "+token)
		}

		resp, err := f.client.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return nil, backoff.Permanent(ctx.Err())
			}
			// The error text names the URL and the network fault only.
			return nil, err
		}
		defer resp.Body.Close()
		data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
		if err != nil {
			return nil, fmt.Errorf("read answer: %w", err)
		}

		switch s := resp.StatusCode; {
		case s >= 200 && s < 300:
			return data, nil
		case s == http.StatusUnauthorized && tokens != nil && !renewed:
			// The token expired early or was revoked: one new one.
			renewed = true
			tokens.Invalidate(token)
			return nil, &backoff.RetryAfterError{Duration: 0}
		case s == http.StatusTooManyRequests || s == http.StatusServiceUnavailable:
			if d, ok := retryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
				return nil, &backoff.RetryAfterError{Duration: min(d, f.retry.MaxRetryAfter)}
			}
			return nil, &StatusError{Status: s}
		case s >= 500:
			return nil, &StatusError{Status: s}
		default:
			return nil, backoff.Permanent(&StatusError{Status: s})
		}
	}

	exp := backoff.NewExponentialBackOff()
	exp.InitialInterval, exp.MaxInterval = f.retry.Initial, f.retry.Max
	data, err := backoff.Retry(ctx, attempt,
		backoff.WithBackOff(exp),
		backoff.WithMaxTries(f.retry.Tries),
		backoff.WithMaxElapsedTime(f.retry.Elapsed))
	var ra *backoff.RetryAfterError
	if errors.As(err, &ra) {
		// Out of tries while the EHR still asked to wait, or still 401.
		if renewed && ra.Duration == 0 {
			return nil, &StatusError{Status: http.StatusUnauthorized}
		}
		return nil, &StatusError{Status: http.StatusTooManyRequests}
	}
	return data, err
}

// retryAfter reads a Retry-After header: seconds or an HTTP date
// (RFC 9110 §10.2.3).
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}
