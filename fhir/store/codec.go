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

	"github.com/fhirbill/fhirbill/fhir/search"
)

// doc is a stored document, current or historical.
//
// Current version, in the collection named after the resource type:
//
//	{_id: id, v, ts, del, b: gzip(body), s: {<code>: {k, x, r: [{lo, hi}]}}, m, j}
//
// History, in "<Type>_history", one document per version:
//
//	{_id: "<id>/<v>", id, v, ts, del, b, s, m, j, pj, w}
//
// A deleted version has del true and neither b nor s. The history keeps s
// so that a version whose writer stopped between its two steps can be
// rolled forward into the current document (see [Store.Put]); m is the
// HTTP method that made the version, for history Bundles. j names the
// journal of the group that wrote the version, if any, in both places: a
// version is pending while that journal exists (see [Store.PutAll]). pj is
// the j of the current document the version was written over, which a
// roll-forward compares, and w a random id of the write, so that a
// version is withdrawn or undone only by who checked it.
type doc struct {
	Key string       `bson:"_id"`
	ID  string       `bson:"id,omitempty"`
	V   int64        `bson:"v"`
	TS  time.Time    `bson:"ts"`
	Del bool         `bson:"del"`
	B   []byte       `bson:"b,omitempty"`
	S   search.Index `bson:"s,omitempty"`
	J   string       `bson:"j,omitempty"`
	PJ  string       `bson:"pj,omitempty"`
	W   string       `bson:"w,omitempty"`
	M   string       `bson:"m,omitempty"`
}

// historySuffix names the history collection of a type.
const historySuffix = "_history"

// historyKey is the _id of one version in the history collection.
func historyKey(id string, v int64) string {
	return id + "/" + strconv.FormatInt(v, 10)
}

// newDoc builds the current document of a record written by the group
// with the given journal ("" for none).
func newDoc(r *Record, journal string) (*doc, error) {
	d := &doc{Key: r.ID, V: r.Version, TS: r.Updated.UTC(), Del: r.Deleted, M: r.Method, J: journal}
	if r.Deleted {
		return d, nil
	}
	b, err := compress(r.Body)
	if err != nil {
		return nil, err
	}
	d.B = b
	if len(r.Index) > 0 {
		d.S = r.Index
	}
	return d, nil
}

// history returns the history document of a current document written over
// a current document whose j was pj, with a new write id.
func (d *doc) history(pj string) *doc {
	h := *d
	h.Key, h.ID, h.PJ, h.W = historyKey(d.Key, d.V), d.Key, pj, newID(8)
	return &h
}

// current returns the current document of a history document. It keeps
// j: a version restored or rolled forward stays pending as long as its
// group.
func (d *doc) current() *doc {
	c := *d
	c.Key, c.ID, c.PJ, c.W = d.ID, "", "", ""
	return &c
}

// newID returns n random bytes in hex.
func newID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// record decodes a document of resource type typ.
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
