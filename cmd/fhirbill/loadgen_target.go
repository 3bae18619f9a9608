package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// errNotLoopback refuses a target that is not on this machine: a load
// generator aimed elsewhere is an attack, whatever it was meant to be.
var errNotLoopback = errors.New("loadgen only targets a server on this machine (127.0.0.0/8 or ::1)")

// loopbackTarget parses the base URL of the server under load and checks
// that its host resolves to loopback addresses only. It returns the URL,
// without a trailing slash, and its port.
func loopbackTarget(ctx context.Context, raw string) (*url.URL, int, error) {
	u, err := url.Parse(strings.TrimSuffix(raw, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, 0, fmt.Errorf("--base-url %q: want an absolute http(s) URL such as http://localhost:8080/fhir", raw)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, 0, fmt.Errorf("--base-url %q: want a base URL without user, query or fragment", raw)
	}
	port := 80
	if u.Scheme == "https" {
		port = 443
	}
	if p := u.Port(); p != "" {
		port, err = strconv.Atoi(p)
		if err != nil || port < 1 || port > 65535 {
			return nil, 0, fmt.Errorf("--base-url %q: bad port", raw)
		}
	}

	host := u.Hostname()
	lookupCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupIPAddr(lookupCtx, host)
	if err != nil {
		return nil, 0, fmt.Errorf("--base-url: cannot resolve %q: %w; %w", host, err, errNotLoopback)
	}
	for _, a := range addrs {
		if !a.IP.IsLoopback() {
			return nil, 0, fmt.Errorf("--base-url: %q resolves to %s, not a loopback address: %w",
				host, a.IP, errNotLoopback)
		}
	}
	if len(addrs) == 0 {
		return nil, 0, fmt.Errorf("--base-url: %q resolves to no address: %w", host, errNotLoopback)
	}
	return u, port, nil
}

// loopbackClient is an HTTP client for the load: one idle connection per
// worker, no proxy, no redirects, and a dialer that connects to loopback
// addresses only (should a name resolve differently after the check).
func loopbackClient(concurrency int, timeout time.Duration) *http.Client {
	dialer := &net.Dialer{
		Timeout: 10 * time.Second,
		Control: func(_, address string, _ syscall.RawConn) error {
			host, _, err := net.SplitHostPort(address)
			if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
				return fmt.Errorf("connect to %s: %w", address, errNotLoopback)
			}
			return nil
		},
	}
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			Proxy:               nil, // never through a proxy: the load stays on this machine
			DialContext:         dialer.DialContext,
			MaxIdleConns:        concurrency + 4,
			MaxIdleConnsPerHost: concurrency + 4,
			IdleConnTimeout:     90 * time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
