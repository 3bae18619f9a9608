package store

// This file fixes the API the REST layer programs against. The
// implementation lives in the other files of the package.

import (
	"time"

	"github.com/fhirbill/fhirbill/fhir/search"
)

// Record is one version of one resource.
type Record struct {
	Type    string
	ID      string
	Version int64     // 1, 2, ... per resource, without gaps
	Updated time.Time // UTC, millisecond precision
	Deleted bool
	// Body is the canonical JSON as printed by jsonformat, with id,
	// meta.versionId and meta.lastUpdated already set. Nil when Deleted.
	Body []byte
	// Index holds the search values of Body. Written, never read back.
	Index search.Index
	// Method is the HTTP method of the interaction that made this version
	// (POST, PUT, DELETE), shown in history Bundles. Empty when unknown.
	Method string
}

// Write is one record to store in place of version Prev of the same
// resource. Prev 0 means the resource must not exist at all; a resource whose
// current version is a delete is updated (or re-deleted) by naming that
// version, and its history goes on.
type Write struct {
	Record *Record
	Prev   int64
}

// Page selects a slice of a history.
type Page struct {
	// Count is the most versions to return: 0 returns none, only the
	// total, as FHIR's _count=0 asks.
	Count  int
	Offset int
	// Since, when not zero, keeps only versions updated at or after it
	// (_since).
	Since time.Time
	// Filters keep only versions whose search values match every filter
	// (access rules, see [search.Filter]); a deleted version has none and
	// is left out.
	Filters []search.Filter
}
