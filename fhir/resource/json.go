package resource

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/go-json-experiment/json/jsontext"
)

// MaxDepth is the deepest nesting of JSON objects and arrays accepted in a
// resource. The deepest R4 resources nest about 15 levels; contained
// resources and extensions add some. Deeper input is refused before it
// reaches the parser.
const MaxDepth = 64

// CheckJSON verifies that body is exactly one JSON object that FHIR accepts
// (https://hl7.org/fhir/R4/json.html): well-formed, no duplicate member
// names, no data after the object, valid UTF-8, and nested at most
// [MaxDepth] levels. encoding/json and the jsonformat parser accept the first
// three silently.
func CheckJSON(body []byte) error {
	dec := jsontext.NewDecoder(bytes.NewReader(body))
	first := true
	for {
		tok, err := dec.ReadToken()
		if err != nil {
			if errors.Is(err, io.EOF) && !first && dec.StackDepth() == 0 {
				return nil
			}
			return jsonError(err, dec)
		}
		if first {
			if tok.Kind() != '{' {
				return Errorf(http.StatusBadRequest, IssueStructure, "",
					"the body must be a JSON object holding one resource")
			}
			first = false
		}
		if dec.StackDepth() > MaxDepth {
			return Errorf(http.StatusBadRequest, IssueTooCostly, "",
				"JSON nested deeper than %d levels", MaxDepth)
		}
		if err := checkEmpty(dec, tok); err != nil {
			return err
		}
		if dec.StackDepth() == 0 {
			// The object is complete: nothing but white space may follow.
			if _, err := dec.ReadToken(); !errors.Is(err, io.EOF) {
				return Errorf(http.StatusBadRequest, IssueStructure, "",
					"unexpected data after the JSON object at byte %d", dec.InputOffset())
			}
			return nil
		}
	}
}

// checkEmpty refuses what FHIR JSON forbids though JSON allows it
// (https://hl7.org/fhir/R4/json.html): empty objects, empty arrays and
// empty strings as values. tok was just read from dec.
func checkEmpty(dec *jsontext.Decoder, tok jsontext.Token) error {
	what := ""
	switch tok.Kind() {
	case '{':
		if dec.PeekKind() == '}' {
			what = "an empty object"
		}
	case '[':
		if dec.PeekKind() == ']' {
			what = "an empty array"
		}
	case '"':
		if tok.String() != "" {
			return nil
		}
		if k, n := dec.StackIndex(dec.StackDepth()); k == '{' && n%2 == 1 {
			return nil // an empty name: jsonformat reports it as unknown
		}
		what = "an empty string"
	}
	if what == "" {
		return nil
	}
	return Errorf(http.StatusBadRequest, IssueInvalid, pointerExpression(string(dec.StackPointer())),
		"%s at byte %d: FHIR JSON leaves an element out instead", what, dec.InputOffset())
}

// jsonError turns a jsontext error into a client error naming the position,
// without echoing the input.
func jsonError(err error, dec *jsontext.Decoder) error {
	var se *jsontext.SyntacticError
	if errors.As(err, &se) {
		where := fmt.Sprintf("byte %d", se.ByteOffset)
		if se.JSONPointer != "" {
			where += fmt.Sprintf(" (%s)", se.JSONPointer)
		}
		msg := "invalid JSON"
		if errors.Is(err, jsontext.ErrDuplicateName) {
			msg = "duplicate member name"
		}
		return Errorf(http.StatusBadRequest, IssueStructure, pointerExpression(string(se.JSONPointer)),
			"%s at %s", msg, where)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return Errorf(http.StatusBadRequest, IssueStructure, "",
			"the JSON ends early, at byte %d", dec.InputOffset())
	}
	return Errorf(http.StatusBadRequest, IssueStructure, "", "invalid JSON at byte %d", dec.InputOffset())
}

// pointerExpression turns a JSON pointer such as /name/0/given into a
// FHIRPath-like expression name[0].given; empty for the root.
func pointerExpression(p string) string {
	if p == "" || p == "/" {
		return ""
	}
	var b bytes.Buffer
	for i, seg := range bytes.Split([]byte(p[1:]), []byte("/")) {
		if len(seg) > 0 && seg[0] >= '0' && seg[0] <= '9' {
			fmt.Fprintf(&b, "[%s]", seg)
			continue
		}
		if i > 0 {
			b.WriteByte('.')
		}
		b.Write(seg)
	}
	return b.String()
}
