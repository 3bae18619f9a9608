package resource

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/go-json-experiment/json/jsontext"
)

// MaxDepth is the deepest nesting of JSON objects and arrays accepted in a
// resource. The deepest R4 resources nest about 15 levels; contained
// resources and extensions add some. Deeper input is refused before it
// reaches the parser.
const MaxDepth = 64

// MaxValues is the most JSON values (objects, arrays, strings, numbers and
// booleans) one resource may hold. Parsing costs memory and time per value,
// not per byte: jsonformat allocates about 2 KB for each small object, so a
// body of a few megabytes of tiny elements would take gigabytes. The
// largest R4 examples hold under 7,000 values and a Synthea patient's
// whole record about 25,000.
const MaxValues = 100_000

// MaxBundleValues is the most JSON values a Bundle posted to the base may
// hold; each entry's resource is held to [MaxValues] on its own.
const MaxBundleValues = 500_000

// MaxIntegerDigits and MaxFractionDigits bound a JSON number: at most 18
// digits before the decimal point and 30 after it, counted with the
// exponent applied (1.5e3 has 4 before; 1e-31 has 31 after). R4 leaves the
// precision of decimal to implementations, citing XML Schema, which asks
// processors for at least 18 digits
// (https://hl7.org/fhir/R4/datatypes.html#decimal). No amount, quantity
// or RVU comes near 10^18; 30 places after the point take in the doubles
// that systems such as Synthea print (0.0035292338017849133 has 19) and
// lab values down to 10^-30. Larger exponents would make every later
// computation (billing rescales decimals to a common exponent) take time
// and memory in proportion to the exponent.
const (
	MaxIntegerDigits  = 18
	MaxFractionDigits = 30
)

// CheckJSON verifies that body is exactly one JSON object that FHIR accepts
// (https://hl7.org/fhir/R4/json.html): well-formed, no duplicate member
// names, no data after the object, valid UTF-8, nested at most [MaxDepth]
// levels, holding at most [MaxValues] values, and numbers within
// [MaxIntegerDigits] and [MaxFractionDigits]. encoding/json and the
// jsonformat parser accept the first three silently.
func CheckJSON(body []byte) error {
	return checkJSON(body, MaxValues)
}

// CheckBundleJSON is [CheckJSON] for a Bundle posted to the base, which may
// hold up to [MaxBundleValues] values.
func CheckBundleJSON(body []byte) error {
	return checkJSON(body, MaxBundleValues)
}

func checkJSON(body []byte, maxValues int) error {
	dec := jsontext.NewDecoder(bytes.NewReader(body))
	c := jsonChecker{dec: dec}
	first, values := true, 0
	for {
		tok, err := dec.ReadToken()
		if err != nil {
			if errors.Is(err, io.EOF) && !first && dec.StackDepth() == 0 {
				return nil
			}
			return c.syntaxError(err)
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
		name := c.isName(tok)
		if !name && tok.Kind() != '}' && tok.Kind() != ']' {
			if values++; values > maxValues {
				return Errorf(http.StatusRequestEntityTooLarge, IssueTooCostly, c.arrayExpression(),
					"the resource holds more than %d JSON values (objects, arrays, strings, numbers "+
						"and booleans), the most this server parses in one resource", maxValues)
			}
		}
		if err := c.checkEmpty(tok); err != nil {
			return err
		}
		if tok.Kind() == '0' {
			if err := c.checkNumber(tok.String()); err != nil {
				return err
			}
		}
		c.noteType(tok, name)
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

// jsonChecker holds what CheckJSON has learnt of the body so far: the
// resource type, once read, to start the expressions of its errors with.
type jsonChecker struct {
	dec      *jsontext.Decoder
	rootType string
	typeNext bool // the last token was the root's "resourceType" name
}

// isName reports whether tok, just read, is a member name.
func (c *jsonChecker) isName(tok jsontext.Token) bool {
	if tok.Kind() != '"' {
		return false
	}
	k, n := c.dec.StackIndex(c.dec.StackDepth())
	return k == '{' && n%2 == 1
}

// noteType remembers the root's resourceType.
func (c *jsonChecker) noteType(tok jsontext.Token, name bool) {
	if c.dec.StackDepth() != 1 {
		c.typeNext = false
		return
	}
	switch {
	case name:
		c.typeNext = tok.String() == "resourceType"
	case c.typeNext && tok.Kind() == '"':
		if t := tok.String(); Known(t) {
			c.rootType = t
		}
		c.typeNext = false
	default:
		c.typeNext = false
	}
}

// expression names the element at JSON pointer p, starting with the
// resource type when it is known.
func (c *jsonChecker) expression(p string) string {
	e := pointerExpression(p)
	switch {
	case c.rootType == "":
		return e
	case e == "":
		return c.rootType
	}
	return c.rootType + "." + e
}

// arrayExpression names the array the element just read is in (the
// innermost one), without its index: the element that holds too many
// values.
func (c *jsonChecker) arrayExpression() string {
	segs := strings.Split(string(c.dec.StackPointer()), "/")
	for i := len(segs) - 1; i > 0; i-- {
		if s := segs[i]; s != "" && s[0] >= '0' && s[0] <= '9' {
			return c.expression(strings.Join(segs[:i], "/"))
		}
	}
	return c.expression("")
}

// checkNumber refuses a number beyond [MaxIntegerDigits] or
// [MaxFractionDigits]. raw is valid JSON number syntax.
func (c *jsonChecker) checkNumber(raw string) error {
	if numberFits(raw) {
		return nil
	}
	return Errorf(http.StatusBadRequest, IssueValue, c.expression(string(c.dec.StackPointer())),
		"a number may have at most %d digits before the decimal point and %d after it, "+
			"its exponent applied (this server's limit for decimals)", MaxIntegerDigits, MaxFractionDigits)
}

// numberFits reports whether the JSON number raw has at most
// MaxIntegerDigits digits before the point and MaxFractionDigits after,
// once its exponent is applied. Trailing zeros count: in FHIR they are
// precision.
func numberFits(raw string) bool {
	mant, exp, hasExp := strings.Cut(strings.TrimPrefix(raw, "-"), "e")
	if !hasExp {
		mant, exp, hasExp = strings.Cut(mant, "E")
	}
	e := 0
	if hasExp {
		digits := strings.TrimLeft(strings.TrimLeft(exp, "+-"), "0")
		if len(digits) > 4 {
			return false // |e| of 10,000 or more
		}
		for _, d := range digits {
			e = e*10 + int(d-'0')
		}
		if strings.HasPrefix(exp, "-") {
			e = -e
		}
	}
	intPart, frac, _ := strings.Cut(mant, ".")
	// The value is the digits intPart+frac times 10^(e - len(frac)).
	scale := len(frac) - e
	if scale > MaxFractionDigits {
		return false
	}
	sig := len(strings.TrimLeft(intPart+frac, "0"))
	return sig-scale <= MaxIntegerDigits
}

// checkEmpty refuses what FHIR JSON forbids though JSON allows it
// (https://hl7.org/fhir/R4/json.html): empty objects, empty arrays and
// empty strings as values. tok was just read from dec.
func (c *jsonChecker) checkEmpty(tok jsontext.Token) error {
	dec := c.dec
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
	return Errorf(http.StatusBadRequest, IssueInvalid, c.expression(string(dec.StackPointer())),
		"%s at byte %d: FHIR JSON leaves an element out instead", what, dec.InputOffset())
}

// syntaxError turns a jsontext error into a client error naming the
// position, without echoing the input.
func (c *jsonChecker) syntaxError(err error) error {
	dec := c.dec
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
		return Errorf(http.StatusBadRequest, IssueStructure, c.expression(string(se.JSONPointer)),
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
