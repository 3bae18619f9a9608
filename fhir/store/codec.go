package store

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/fhirbill/fhirbill/fhir/search"
)

// doc is a stored document, current or historical. The history holds
// every version whole; the current document of a resource is the index
// part of its current version, small, so that a scan reads little:
//
//	history, "<Type>_history":  {_id: "<id>/<v>", id, v, ts, del, b, m, w, j, pj, <search values>}
//	current, "<Type>":          {_id: id, v, ts, del, j, <search values>}
//
// b is the gzip'd body and m the HTTP method that made the version, for
// history Bundles; a delete has neither b nor search values. w is a
// random id of the write, so that a version is withdrawn or undone only
// by who checked it. j names the journal of the group that wrote the
// version, if any: a version is pending while that journal exists (see
// [Store.PutAll]). pj is the j of the current document the version was
// written over, which a roll-forward compares (see [Store.Put]). The
// history keeps the search values so that a version can be rolled
// forward or restored into the current document, and so that histories
// can be filtered.
//
// The search values take one of two forms, chosen per server (see the
// packed field of [Store]): on MongoDB s: {<code>: {k, x, r: [{lo, hi}]}},
// arrays that indexes serve; on FerretDB, which decodes every document
// it scans and pays for each value, k: one string of every key (see
// packed.go) and, per date parameter, lo_<code> and hi_<code>: the
// starts and the ends of its ranges.
type doc struct {
	Key string                 `bson:"_id"`
	ID  string                 `bson:"id,omitempty"`
	V   int64                  `bson:"v"`
	TS  time.Time              `bson:"ts"`
	Del bool                   `bson:"del"`
	B   []byte                 `bson:"b,omitempty"`
	M   string                 `bson:"m,omitempty"`
	W   string                 `bson:"w,omitempty"`
	J   string                 `bson:"j,omitempty"`
	PJ  string                 `bson:"pj,omitempty"`
	S   search.Index           `bson:"s,omitempty"`
	K   string                 `bson:"k,omitempty"`
	R   map[string][]time.Time `bson:",inline"` // lo_<code> and hi_<code>
}

// The projections of the two reads of a version: what a search or a read
// by id needs of the current document, and the record in the history.
var (
	currentFields = bson.D{{Key: "v", Value: 1}, {Key: "j", Value: 1}}
	recordFields  = bson.D{
		{Key: "id", Value: 1}, {Key: "v", Value: 1}, {Key: "ts", Value: 1}, {Key: "del", Value: 1},
		{Key: "b", Value: 1}, {Key: "m", Value: 1}, {Key: "j", Value: 1},
	}
)

// historySuffix names the history collection of a type.
const historySuffix = "_history"

// historyKey is the _id of one version in the history collection.
func historyKey(id string, v int64) string {
	return id + "/" + strconv.FormatInt(v, 10)
}

// newVersion builds the history document of a record written by the
// group with the given journal ("" for none) over a current document
// whose j was pj, with a new write id.
func (s *Store) newVersion(r *Record, journal, pj string) (*doc, error) {
	h := &doc{
		Key: historyKey(r.ID, r.Version), ID: r.ID, V: r.Version, TS: r.Updated.UTC(),
		Del: r.Deleted, M: r.Method, W: newID(8), J: journal, PJ: pj,
	}
	if r.Deleted {
		return h, nil
	}
	b, err := compress(r.Body)
	if err != nil {
		return nil, err
	}
	h.B = b
	switch {
	case s.packed:
		h.K, h.R = packKeys(r.Index), packDates(r.Index)
	case len(r.Index) > 0:
		h.S = r.Index
	}
	return h, nil
}

// current returns the current document of a history document: the same
// version without its body. It keeps j, so that a version restored or
// rolled forward stays pending as long as its group.
func (d *doc) current() *doc {
	c := *d
	c.Key, c.ID, c.PJ, c.W, c.B, c.M = d.ID, "", "", "", nil, ""
	return &c
}

// ranges returns the date ranges of parameter code in a document of
// either form.
func (d *doc) ranges(code string) []search.Range {
	if d.S != nil {
		return d.S[code].Ranges
	}
	lo, hi := d.R[loPrefix+code], d.R[hiPrefix+code]
	rs := make([]search.Range, min(len(lo), len(hi)))
	for i := range rs {
		rs[i] = search.Range{Lo: lo[i], Hi: hi[i]}
	}
	return rs
}

// newID returns n random bytes in hex.
func newID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// record decodes a history document of resource type typ.
func (d *doc) record(typ string) (*Record, error) {
	id := d.Key
	if d.ID != "" {
		id = d.ID
	}
	r := &Record{Type: typ, ID: id, Version: d.V, Updated: d.TS.UTC(), Deleted: d.Del, Method: d.M}
	if d.Del {
		return r, nil
	}
	b, err := decompress(d.B)
	if err != nil {
		return nil, fmt.Errorf("decode %s/%s version %d: %w", typ, id, d.V, err)
	}
	r.Body = b
	return r, nil
}

var (
	gzipWriters sync.Pool // *gzip.Writer
	gzipReaders sync.Pool // *gzip.Reader
)

// compress gzips a body.
func compress(body []byte) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(len(body)/4 + 64)

	zw, _ := gzipWriters.Get().(*gzip.Writer)
	if zw == nil {
		zw, _ = gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	} else {
		zw.Reset(&buf)
	}
	defer gzipWriters.Put(zw)

	if _, err := zw.Write(body); err != nil {
		return nil, fmt.Errorf("compress body: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("compress body: %w", err)
	}
	return buf.Bytes(), nil
}

// maxBody bounds the buffer decompress allocates from the gzip trailer.
const maxBody = 64 << 20

// decompress gunzips a body, sized from the gzip trailer.
func decompress(b []byte) ([]byte, error) {
	if len(b) < 18 {
		return nil, errors.New("body too short")
	}
	size := int(binary.LittleEndian.Uint32(b[len(b)-4:]))

	zr, _ := gzipReaders.Get().(*gzip.Reader)
	var err error
	if zr == nil {
		zr, err = gzip.NewReader(bytes.NewReader(b))
	} else {
		err = zr.Reset(bytes.NewReader(b))
	}
	if err != nil {
		return nil, fmt.Errorf("decompress body: %w", err)
	}
	defer gzipReaders.Put(zr)

	var buf bytes.Buffer
	buf.Grow(min(size, maxBody) + bytes.MinRead)
	if _, err := buf.ReadFrom(zr); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("decompress body: %w", err)
	}
	return buf.Bytes(), nil
}
