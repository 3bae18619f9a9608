package rest

import (
	"bytes"
	"encoding/json"
	"time"

	"github.com/fhirbill/fhirbill/fhir/store"
)

// The Bundle elements fhirbill prints (https://hl7.org/fhir/R4/bundle.html).
// Resources inside are the stored canonical JSON, copied as they are.

type bundleJSON struct {
	ResourceType string      `json:"resourceType"`
	ID           string      `json:"id,omitempty"`
	Meta         *metaJSON   `json:"meta,omitempty"`
	Type         string      `json:"type"`
	Timestamp    string      `json:"timestamp,omitempty"`
	Total        *int        `json:"total,omitempty"`
	Link         []linkJSON  `json:"link,omitempty"`
	Entry        []entryJSON `json:"entry,omitempty"`
}

type metaJSON struct {
	LastUpdated string `json:"lastUpdated,omitempty"`
}

type linkJSON struct {
	Relation string `json:"relation"`
	URL      string `json:"url"`
}

type entryJSON struct {
	FullURL  string          `json:"fullUrl,omitempty"`
	Resource json.RawMessage `json:"resource,omitempty"`
	Search   *entrySearch    `json:"search,omitempty"`
	Request  *entryRequest   `json:"request,omitempty"`
	Response *entryResponse  `json:"response,omitempty"`
}

type entrySearch struct {
	Mode string `json:"mode"`
}

type entryRequest struct {
	Method      string `json:"method"`
	URL         string `json:"url"`
	IfNoneMatch string `json:"ifNoneMatch,omitempty"`
	IfMatch     string `json:"ifMatch,omitempty"`
	IfNoneExist string `json:"ifNoneExist,omitempty"`
	// IfModifiedSince is kept as text: it is only passed on.
	IfModifiedSince string `json:"ifModifiedSince,omitempty"`
}

type entryResponse struct {
	Status       string          `json:"status"`
	Location     string          `json:"location,omitempty"`
	Etag         string          `json:"etag,omitempty"`
	LastModified string          `json:"lastModified,omitempty"`
	Outcome      json.RawMessage `json:"outcome,omitempty"`
}

// instant prints a time as a FHIR instant with millisecond precision.
func instant(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// newBundle starts a Bundle of the given type with a fresh id and the
// current time.
func (s *Server) newBundle(typ string) *bundleJSON {
	now := instant(s.clock())
	return &bundleJSON{ResourceType: "Bundle", ID: newID(), Meta: &metaJSON{LastUpdated: now}, Type: typ, Timestamp: now}
}

// fullURL is the absolute URL of a resource.
func (s *Server) fullURL(rec *store.Record) string { return s.base + "/" + rec.Type + "/" + rec.ID }

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// mustJSON prints one of the package's own JSON types, without escaping
// "&" in URLs as encoding/json does by default.
func mustJSON(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic("rest: marshal bundle: " + err.Error()) // only our own types
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}
