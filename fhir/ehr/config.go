package ehr

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"
)

// DefaultScopes are the scopes asked for when a connection names none:
// read access to every type a sync pulls. An EHR may grant fewer; what
// it then refuses is skipped and reported.
const DefaultScopes = "system/Encounter.read system/Condition.read system/Procedure.read " +
	"system/Patient.read system/Coverage.read system/Organization.read system/Location.read " +
	"system/Practitioner.read"

// Connection is one connected EHR.
type Connection struct {
	// Name identifies the connection: in commands, in meta.source
	// (urn:fhirbill:ehr:NAME) and in the ids of what it pulls.
	Name string
	// Base is the EHR's FHIR base URL.
	Base string
	// ClientID is fhirbill's client id registered at the EHR.
	ClientID string
	// Scopes is the space-separated scope string asked for
	// ([DefaultScopes] when empty).
	Scopes string
	// TokenURL, when set, is used instead of the token endpoint that
	// discovery finds.
	TokenURL string
	// Interval is how often serve pulls; 0 pulls only on demand.
	Interval time.Duration
	// Filters are search parameters added to the Encounter search, e.g.
	// status=finished.
	Filters url.Values
	// PageSize is the _count asked for (default 50).
	PageSize int

	key *Key
}

// Key returns the connection's signing key.
func (c *Connection) Key() *Key { return c.key }

// Source is the meta.source given to what the connection pulls, and the
// system of the identifier that keeps the EHR's id.
func (c *Connection) Source() string { return "urn:fhirbill:ehr:" + c.Name }

// namePattern keeps connection names short and safe in URNs and commands.
var namePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)

// fileConnection is one connection as the configuration file writes it.
type fileConnection struct {
	Name     string            `json:"name"`
	Base     string            `json:"base"`
	ClientID string            `json:"client_id"`
	KeyFile  string            `json:"key_file"`
	KeyEnv   string            `json:"key_env"`
	KeyID    string            `json:"kid"`
	Scopes   string            `json:"scopes"`
	TokenURL string            `json:"token_url"`
	Interval string            `json:"interval"`
	Filters  map[string]string `json:"filters"`
	PageSize int               `json:"page_size"`
}

// TODO(#4): connections as FHIR Endpoint resources (the "and/or"); only the file is read today.

// LoadConnections reads the connections file: JSON of the form
//
//	{"connections": [{"name": "demo", "base": "https://ehr.example/fhir",
//	  "client_id": "fhirbill", "key_file": "/etc/fhirbill/demo.pem",
//	  "scopes": "...", "interval": "15m", "filters": {"status": "finished"}}]}
//
// The private key comes from key_file (a path, relative to the file) or
// key_env (the name of an environment variable read with getenv), as PEM
// or a JWK; kid overrides the key's id. Unknown fields are refused.
func LoadConnections(path string, getenv func(string) string) ([]*Connection, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read connections: %w", err)
	}
	var f struct {
		Connections []fileConnection `json:"connections"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("read connections %s: %w", path, err)
	}
	dir := path[:strings.LastIndex(path, "/")+1]
	var out []*Connection
	seen := map[string]bool{}
	for i, fc := range f.Connections {
		c, err := fc.connection(dir, getenv)
		if err != nil {
			return nil, fmt.Errorf("connection %d: %w", i, err)
		}
		if seen[c.Name] {
			return nil, fmt.Errorf("connection %d: name %q used twice", i, c.Name)
		}
		seen[c.Name] = true
		out = append(out, c)
	}
	return out, nil
}

func (fc fileConnection) connection(dir string, getenv func(string) string) (*Connection, error) {
	c := &Connection{
		Name: fc.Name, Base: strings.TrimSuffix(fc.Base, "/"), ClientID: fc.ClientID,
		Scopes: fc.Scopes, TokenURL: fc.TokenURL, PageSize: fc.PageSize, Filters: url.Values{},
	}
	for k, v := range fc.Filters {
		c.Filters.Set(k, v)
	}
	if fc.Interval != "" {
		d, err := time.ParseDuration(fc.Interval)
		if err != nil || d < 0 {
			return nil, fmt.Errorf("interval %q: want a duration such as 15m", fc.Interval)
		}
		c.Interval = d
	}

	var pemOrJWK []byte
	switch {
	case fc.KeyFile != "" && fc.KeyEnv != "":
		return nil, errors.New("set key_file or key_env, not both")
	case fc.KeyFile != "":
		p := fc.KeyFile
		if !strings.HasPrefix(p, "/") {
			p = dir + p
		}
		b, err := os.ReadFile(p)
		if err != nil {
			// The path is configuration, not a secret; the content is.
			return nil, fmt.Errorf("read key_file: %w", err)
		}
		pemOrJWK = b
	case fc.KeyEnv != "":
		pemOrJWK = []byte(getenv(fc.KeyEnv))
		if len(pemOrJWK) == 0 {
			return nil, fmt.Errorf("key_env: $%s is empty", fc.KeyEnv)
		}
	default:
		return nil, errors.New("no private key: set key_file or key_env")
	}
	key, err := ParseKey(pemOrJWK, fc.KeyID)
	if err != nil {
		return nil, err
	}
	c.key = key
	return c, c.Validate()
}

// Validate checks the connection and fills its defaults.
func (c *Connection) Validate() error {
	if !namePattern.MatchString(c.Name) {
		return fmt.Errorf("name %q: want 1-32 of a-z 0-9 -", c.Name)
	}
	if err := checkURL(c.Base); err != nil {
		return fmt.Errorf("%s: base: %w", c.Name, err)
	}
	if c.TokenURL != "" {
		if err := checkURL(c.TokenURL); err != nil {
			return fmt.Errorf("%s: token_url: %w", c.Name, err)
		}
	}
	if c.ClientID == "" {
		return fmt.Errorf("%s: client_id is required", c.Name)
	}
	if c.key == nil {
		return fmt.Errorf("%s: no private key", c.Name)
	}
	if c.Scopes == "" {
		c.Scopes = DefaultScopes
	}
	if c.PageSize <= 0 {
		c.PageSize = 50
	}
	if c.Filters == nil {
		c.Filters = url.Values{}
	}
	for k := range c.Filters {
		if strings.HasPrefix(k, "_lastUpdated") || k == "_count" || k == "_sort" {
			return fmt.Errorf("%s: filter %s is set by the puller", c.Name, k)
		}
	}
	return nil
}

// NewConnection returns a validated connection with key; for callers that
// configure connections in code (tests, Endpoint resources).
func NewConnection(c Connection, key *Key) (*Connection, error) {
	c.key = key
	c.Base = strings.TrimSuffix(c.Base, "/")
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("want an absolute http(s) URL")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return errors.New("want a URL without query or fragment")
	}
	return nil
}
