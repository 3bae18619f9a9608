package ehrtest

import (
	"net/http"
	"strconv"
	"time"
)

// faults are the misbehaviours the EHR is told to show on FHIR requests.
type faults struct {
	tooMany    int           // answer this many requests 429
	retryAfter time.Duration // with this Retry-After
	errors     int           // answer this many requests 500
	slow       time.Duration // wait this long before each answer
	tokenLife  time.Duration // tokens die after this, whatever expires_in says
}

// TooManyRequests makes the next n FHIR requests answer 429 with
// Retry-After in whole seconds.
func (s *Server) TooManyRequests(n int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.tooMany, s.faults.retryAfter = n, retryAfter
}

// ServerErrors makes the next n FHIR requests answer 500.
func (s *Server) ServerErrors(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.errors = n
}

// Slow makes every FHIR answer wait d (0: none).
func (s *Server) Slow(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.slow = d
}

// ExpireTokensAfter makes tokens issued from now on stop working after d,
// while expires_in still says the full lifetime (0: honest tokens).
func (s *Server) ExpireTokensAfter(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.tokenLife = d
}

// misbehave applies the faults to one request; it reports whether it
// answered.
func (s *Server) misbehave(w http.ResponseWriter) (int, bool) {
	s.mu.Lock()
	f := &s.faults
	slow := f.slow
	status := 0
	switch {
	case f.tooMany > 0:
		f.tooMany--
		status = http.StatusTooManyRequests
		w.Header().Set("Retry-After", strconv.Itoa(int(f.retryAfter.Round(time.Second)/time.Second)))
	case f.errors > 0:
		f.errors--
		status = http.StatusInternalServerError
	}
	s.mu.Unlock()

	if slow > 0 {
		time.Sleep(slow)
	}
	if status == 0 {
		return 0, false
	}
	writeOutcome(w, status, "transient", "the test EHR was told to fail this request")
	return status, true
}
