package ehrtest

import (
	"net/http/httptest"
	"testing"
)

// Start serves s on a loopback port until the test ends and sets its URL.
func Start(t testing.TB, s *Server) {
	t.Helper()
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(hs.Close)
	s.SetURL(hs.URL)
}
