package ehr

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
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
	// Tries is the most attempts of one request (default 6); the re-send
	// with a new token after a 401 belongs to the attempt it follows.
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
	// Renewed is set on a 401 to the token renewed after a first 401 of
	// the same request: the EHR refuses the client, not an old token.
	Renewed bool
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("the EHR answered %d %s", e.Status, http.StatusText(e.Status))
	if e.Renewed {
		msg += " again, after the token had already been renewed once for this request " +
			"(is the client registered at the EHR with this key and these scopes?)"
	}
	return msg
}

// maxAnswer bounds what is read of one answer: a page of a search.
const maxAnswer = 64 << 20

// fetcher sends requests to EHRs with retries. It follows no redirects:
// requests go only where the caller says.
type fetcher struct {
	client *http.Client
	retry  Retry
	log    *slog.Logger
}

func newFetcher(c *http.Client, r Retry, log *slog.Logger) *fetcher {
	if c == nil {
		c = &http.Client{Timeout: time.Minute}
	}
	cc := *c
	cc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &fetcher{client: &cc, retry: r.withDefaults(), log: log}
}

// answer is what the EHR answered to one request.
type answer struct {
	status int
	header http.Header
	data   []byte
}

// do sends method to u, for the connection named conn, and returns the
// body of a 2xx answer. body, when not nil, makes a form-encoded body for
// each attempt. tokens, when not nil, authorizes the request: each
// attempt takes the token from the cache, which renews one that has
// expired or is about to (so a token that runs out while a retry waits is
// renewed before the retry), and a 401 gets one new token and is sent
// again at once, within the same attempt, so that it uses up none of the
// retries; a 401 to the new token ends the request. Retries and their
// reasons are logged at debug, with the URL's path only.
func (f *fetcher) do(
	ctx context.Context,
	conn, method, u string,
	body func() ([]byte, error),
	tokens *TokenSource,
) ([]byte, error) {
	attempt := func() ([]byte, error) {
		var token string
		if tokens != nil {
			var err error
			if token, err = tokens.Token(ctx); err != nil {
				return nil, backoff.Permanent(err)
			}
		}
		a, err := f.send(ctx, method, u, body, token)
		if err == nil && a.status == http.StatusUnauthorized && tokens != nil {
			// The token expired early or was revoked: one new one.
			tokens.Invalidate(token)
			if token, err = tokens.Token(ctx); err != nil {
				return nil, backoff.Permanent(err)
			}
			a, err = f.send(ctx, method, u, body, token)
			if err == nil && a.status == http.StatusUnauthorized {
				return nil, backoff.Permanent(&StatusError{Status: a.status, Renewed: true})
			}
		}
		if err != nil {
			return nil, err
		}
		return f.judge(a)
	}

	path := "?"
	if pu, err := url.Parse(u); err == nil {
		path = pu.Path // the query may carry ids; a next link, anything
	}
	tries := 0
	notify := func(err error, wait time.Duration) {
		tries++
		attrs := []any{"ehr", conn, "method", method, "path", path, "attempt", tries,
			"wait", wait.Round(time.Millisecond).String()}
		var se *StatusError
		var ue *url.Error
		switch {
		case errors.As(err, &se):
			attrs = append(attrs, "status", se.Status)
		case errors.As(err, &ue):
			attrs = append(attrs, "reason", ue.Err.Error()) // without the URL
		}
		f.log.DebugContext(ctx, "ehr request retried", attrs...)
	}

	exp := backoff.NewExponentialBackOff()
	exp.InitialInterval, exp.MaxInterval = f.retry.Initial, f.retry.Max
	data, err := backoff.Retry(ctx, attempt,
		backoff.WithBackOff(exp),
		backoff.WithMaxTries(f.retry.Tries),
		backoff.WithMaxElapsedTime(f.retry.Elapsed),
		backoff.WithNotify(notify))
	var ra *backoff.RetryAfterError
	var se *StatusError
	if errors.As(err, &ra) && errors.As(err, &se) {
		return nil, se // out of tries while the EHR still asked to wait
	}
	return data, err
}

// send makes one request, with token as its bearer token unless empty.
// A network error is returned to be retried, a cancelled ctx as
// permanent.
func (f *fetcher) send(
	ctx context.Context,
	method, u string,
	body func() ([]byte, error),
	token string,
) (*answer, error) {
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
	if token != "" {
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
	return &answer{status: resp.StatusCode, header: resp.Header, data: data}, nil
}

// judge returns the body of a 2xx answer, and otherwise an error saying
// whether and when to retry: 429 and 503 after their Retry-After, other
// 5xx with backoff, the rest never.
func (f *fetcher) judge(a *answer) ([]byte, error) {
	switch s := a.status; {
	case s >= 200 && s < 300:
		return a.data, nil
	case s == http.StatusTooManyRequests || s == http.StatusServiceUnavailable:
		if d, ok := retryAfter(a.header.Get("Retry-After"), time.Now()); ok {
			wait := &backoff.RetryAfterError{Duration: min(d, f.retry.MaxRetryAfter)}
			return nil, fmt.Errorf("%w: %w", &StatusError{Status: s}, wait)
		}
		return nil, &StatusError{Status: s}
	case s >= 500:
		return nil, &StatusError{Status: s}
	default:
		return nil, backoff.Permanent(&StatusError{Status: s})
	}
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
