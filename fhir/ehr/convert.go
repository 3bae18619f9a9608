package ehr

import (
	"bytes"
	"crypto/sha256"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/fhirbill/fhirbill/fhir/resource"
)

// pulledTypes are the resource types a sync pulls for each Encounter: a
// reference to one of them always becomes a local reference.
var pulledTypes = map[string]bool{
	"Encounter": true, "Condition": true, "Procedure": true, "Patient": true, "Coverage": true,
}

// linkedTypes are the types a sync pulls because billing reads them: the
// Organizations (billing provider, payers), Locations (place of service)
// and Practitioners (rendering providers) that the Encounters, Coverages
// and Procedures name. A reference to one becomes local when the run got
// that resource from the EHR; otherwise (the EHR refused the search, say
// for a narrower grant, or did not return it) it stays where the resource
// is: an absolute URL at the EHR. A reference to any other type is such
// a URL.
var linkedTypes = map[string]bool{"Organization": true, "Location": true, "Practitioner": true}

// idEncoding writes derived ids: lower-case base32, valid FHIR ids.
var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// LocalID is the id in fhirbill of the resource typ/ehrID of the EHR that
// connection name pulls from: 26 characters of a SHA-256 of that natural
// key. The same EHR resource always lands on the same id, so a second
// pull is a lookup by _id and an update, never a duplicate; hashed ids
// also spread evenly over shards.
func LocalID(name, typ, ehrID string) string {
	sum := sha256.Sum256([]byte(name + "\x00" + typ + "\x00" + ehrID))
	return idEncoding.EncodeToString(sum[:])[:26]
}

// pulled is one resource of the EHR, ready to store.
type pulled struct {
	typ, ehrID string
	res        *resource.Resource
	status     string // Encounter.status
}

// ref names the resource at the EHR, for reports and logs.
func (p *pulled) ref() string { return p.typ + "/" + p.ehrID }

// convert turns a resource as the EHR sent it into the one fhirbill
// stores: the derived id, the EHR's id kept as an identifier, meta.source
// naming the connection, the EHR's version and time dropped (fhirbill
// stamps its own), references rewritten (got holds the resources of
// linkedTypes the run has, "Type/id" at the EHR). It then validates it
// like any write; a *resource.Error says why it is refused.
func (c *Connection) convert(raw json.RawMessage, got map[string]bool) (*pulled, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber() // keep decimals' digits
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, errors.New("not a JSON object")
	}
	typ, _ := m["resourceType"].(string)
	ehrID, _ := m["id"].(string)
	if typ == "" || ehrID == "" {
		return nil, errors.New("a resource without resourceType or id")
	}
	p := &pulled{typ: typ, ehrID: ehrID}
	p.status, _ = m["status"].(string)

	m["id"] = LocalID(c.Name, typ, ehrID)
	meta, _ := m["meta"].(map[string]any)
	if meta == nil {
		meta = map[string]any{}
	}
	delete(meta, "versionId")
	delete(meta, "lastUpdated")
	meta["source"] = c.Source()
	m["meta"] = meta
	c.keepIdentity(m, ehrID)
	c.rewriteRefs(m, got)

	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return nil, fmt.Errorf("encode %s: %w", p.ref(), err)
	}
	r, err := resource.Parse(buf.Bytes())
	if err != nil {
		return p, err
	}
	p.res = r
	return p, nil
}

// keepIdentity adds the identifier {system: urn:fhirbill:ehr:NAME, value:
// the EHR's id} unless the resource has it already.
func (c *Connection) keepIdentity(m map[string]any, ehrID string) {
	ids, _ := m["identifier"].([]any)
	for _, v := range ids {
		if id, ok := v.(map[string]any); ok && id["system"] == c.Source() && id["value"] == ehrID {
			return
		}
	}
	m["identifier"] = append(ids, map[string]any{"use": "secondary", "system": c.Source(), "value": ehrID})
}

// rewriteRefs rewrites every Reference.reference: Type/id (relative, or
// absolute under the base) of a pulled type, or of a linked type the run
// got, becomes Type/[LocalID]; of another type, the absolute URL at the
// EHR. Contained (#id), urn and foreign references stay as they are.
func (c *Connection) rewriteRefs(v any, got map[string]bool) {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			if s, ok := val.(string); ok && k == "reference" {
				x[k] = c.localRef(s, got)
				continue
			}
			c.rewriteRefs(val, got)
		}
	case []any:
		for _, val := range x {
			c.rewriteRefs(val, got)
		}
	}
}

func (c *Connection) localRef(ref string, got map[string]bool) string {
	rel := strings.TrimPrefix(ref, c.Base+"/")
	typ, id, ok := splitRef(rel)
	if !ok || (rel == ref && strings.Contains(ref, ":")) {
		return ref
	}
	if pulledTypes[typ] || (linkedTypes[typ] && got[typ+"/"+id]) {
		return typ + "/" + LocalID(c.Name, typ, id)
	}
	return c.Base + "/" + typ + "/" + id
}

// splitRef splits "Type/id" (a trailing /_history/n is dropped).
func splitRef(ref string) (typ, id string, ok bool) {
	parts := strings.Split(ref, "/")
	if len(parts) == 4 && parts[2] == "_history" {
		parts = parts[:2]
	}
	if len(parts) != 2 || !resource.Known(parts[0]) || !resource.ValidID(parts[1]) {
		return "", "", false
	}
	return parts[0], parts[1], true
}
