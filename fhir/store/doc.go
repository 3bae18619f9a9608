// Package store persists FHIR resources in MongoDB, or in an embedded
// FerretDB (SQLite) that speaks the same wire protocol.
//
// It owns the stored document layout, versions and history, optimistic
// concurrency, all-or-nothing groups of writes without multi-document
// transactions, and the translation of a [search.Query] into a filter.
// It treats resource bodies as opaque canonical JSON and never parses them.
// It must not import fhir/rest or billing.
//
// # Layout
//
// Each resource type has a collection of current versions named after the
// type, and one of every version named "<Type>_history":
//
//	Claim:         {_id: id, v, ts, del, b, s}
//	Claim_history: {_id: "<id>/<v>", id, v, ts, del, b, s, j}
//
// v is the version (1, 2, ...), ts the last-updated time (a BSON datetime,
// UTC, milliseconds), del marks a delete, b is the gzip'd body and s the
// search values: {<code>: {k: [keys], x: [strings as written],
// r: [{lo, hi}]}}. Deletes have neither b nor s. The collection
// fhirbill_journal holds the groups of writes in progress
// ([Store.PutAll]). [Store.EnsureIndexes] lists the indexes.
//
// # FerretDB v1
//
// The embedded FerretDB v1.24 (and a FerretDB named by a URI) differs from
// MongoDB in ways the store works around:
//   - Only a filter of exactly {_id: <string>} reaches SQLite; every other
//     filter scans the collection in Go, so searches, counts and histories
//     take time in proportion to the collection. The store adds the SQLite
//     index FerretDB's own _id lookup misses (see embedded.go).
//   - An update reads, then writes, in two steps: the store's
//     compare-and-swap on the current version takes a lock per resource in
//     the process instead of relying on the filter, so one FerretDB must
//     not serve several fhirbill processes.
//   - $elemMatch accepts operators on scalars only; a date eq, which needs
//     lo and hi from one range, is filtered by any lo and any hi, then
//     checked again in Go.
//   - $not on arrays does not follow MongoDB; the store never uses it
//     (:not is $nin, date ne two plain comparisons).
//   - createIndexes panics when two of the requested indexes exist; the
//     store creates one index per command.
package store
