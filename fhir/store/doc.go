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
// Each resource type has a collection of every version named
// "<Type>_history", and one of current versions named after the type:
//
//	Claim_history: {_id: "<id>/<v>", id, v, ts, del, b, m, w, j, pj, <search values>}
//	Claim:         {_id: id, v, ts, del, j, <search values>}
//
// The history holds each version whole: v is the version (1, 2, ...), ts
// the last-updated time (a BSON datetime, UTC, milliseconds), del marks a
// delete, b is the gzip'd body, m the HTTP method that made the version,
// w a random id of the write, j the journal of the group that wrote it,
// if any, and pj the j of the current document it replaced. The current
// document is the current version without b, m, w and pj: small, it is
// what a search scans. A read by id, and each result of a search, looks
// up "<id>/<v>" in the history for the version the current document
// names. Deletes have neither b nor search values.
//
// The search values take the form the server serves best:
//   - MongoDB: s: {<code>: {k: [keys], x: [strings as written],
//     r: [{lo, hi}]}}, arrays with an index behind every parameter
//     ([Store.EnsureIndexes] lists them).
//   - FerretDB: k: "\x1f<code>\x1e<key>\x1f...", every key in one string
//     (strings as written after \x1d instead of \x1e), matched by regular
//     expressions, and lo_<code> and hi_<code>: the starts and the ends
//     of the date ranges of each date parameter. No indexes: FerretDB v1
//     would only maintain them. See packed.go.
//
// So data written on one kind of server is not read on the other. The
// collection fhirbill_journal holds the groups of writes in progress
// ([Store.PutAll]).
//
// # FerretDB v1
//
// The embedded FerretDB v1.24 (and a FerretDB named by a URI) differs from
// MongoDB in ways the store works around:
//   - Only a filter of exactly {_id: <string>} reaches SQLite; every other
//     filter scans the collection in Go, decoding each document value by
//     value, so searches, counts and histories take time in proportion to
//     the collection and to what its documents hold. Searches scan the
//     small current documents, with packed search values, and read the
//     results by _id. The store adds the SQLite index FerretDB's own _id
//     lookup misses, to every collection (see embedded.go).
//   - An update reads, then writes, in two steps: the store's
//     compare-and-swap on the current version takes a lock per resource in
//     the process instead of relying on the filter, so one FerretDB must
//     not serve several fhirbill processes. The embedded one holds an
//     exclusive lock on its data directory while open ([LockDataDir]),
//     so a second process is refused rather than let in to roll back
//     the first one's groups of writes.
//   - $elemMatch accepts operators on scalars only; a date eq, which needs
//     lo and hi from one range, is filtered by any lo and any hi, then
//     checked again in Go.
//   - $not on arrays does not follow MongoDB; the store uses it only on
//     the packed string k (on arrays :not is $nin, and date ne is two
//     plain comparisons in either form).
//   - createIndexes panics when two of the requested indexes exist; the
//     store creates one index per command.
package store
