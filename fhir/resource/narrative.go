package resource

import (
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"

	dtpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
)

// xhtmlNS is the namespace a narrative div must declare.
const xhtmlNS = "http://www.w3.org/1999/xhtml"

// narrativeElements are the XHTML elements a narrative may use: the basic
// formatting of HTML 4.0 chapters 7-11 and 15, links and images (invariant
// txt-1, https://hl7.org/fhir/R4/narrative.html#Narrative). Anything else,
// script above all, is refused: narratives are shown to patients by SMART
// apps.
var narrativeElements = map[string]bool{}

func init() {
	for _, e := range strings.Fields(`a abbr acronym address b bdo big blockquote br caption
		center cite code col colgroup dd del dfn dir div dl dt em font h1 h2 h3 h4 h5 h6 hr i
		img ins kbd li ol p pre q s samp small span strike strong sub sup table tbody td tfoot
		th thead tr tt u ul var`) {
		narrativeElements[e] = true
	}
}

var xhtmlName = (&dtpb.Xhtml{}).ProtoReflect().Descriptor().FullName()

// checkNarratives verifies every XHTML value in m (text.div of the resource
// and of its contained resources).
func checkNarratives(m protoreflect.Message, path string) error {
	if any, ok := m.Interface().(*anypb.Any); ok {
		// Contained resources are kept as Any in the R4 protos.
		inner, err := any.UnmarshalNew()
		if err != nil {
			return nil // not a message this binary knows: nothing to check
		}
		return checkNarratives(inner.ProtoReflect(), path)
	}
	if m.Descriptor().FullName() == xhtmlName {
		if err := checkXHTML(m.Interface().(*dtpb.Xhtml).GetValue()); err != nil {
			return Errorf(http.StatusBadRequest, IssueInvalid, path, "the narrative is not allowed: %v", err)
		}
		return nil
	}
	var err error
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Kind() != protoreflect.MessageKind {
			return true
		}
		p := path + "." + fd.JSONName()
		switch {
		case fd.IsList():
			l := v.List()
			for i := 0; i < l.Len() && err == nil; i++ {
				err = checkNarratives(l.Get(i).Message(), p)
			}
		case fd.IsMap():
		default:
			if fd.ContainingOneof() != nil {
				p = path // a choice or contained resource wrapper
			}
			err = checkNarratives(v.Message(), p)
		}
		return err == nil
	})
	return err
}

// checkXHTML applies txt-1 and txt-2: a div in the XHTML namespace, only
// the allowed elements, no event handler attributes, no script URLs, and
// some content.
func checkXHTML(s string) error {
	d := xml.NewDecoder(strings.NewReader(s))
	d.Strict = true
	depth, content := 0, false
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return errors.New("it is not well-formed XHTML")
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if depth == 0 && (t.Name.Local != "div" || t.Name.Space != xhtmlNS) {
				return errors.New(`it must be one <div xmlns="http://www.w3.org/1999/xhtml">`)
			}
			if !narrativeElements[t.Name.Local] {
				return errors.New("element <" + trim(t.Name.Local) + "> is not allowed")
			}
			for _, a := range t.Attr {
				name := strings.ToLower(a.Name.Local)
				if strings.HasPrefix(name, "on") {
					return errors.New("event handler attributes are not allowed")
				}
				if (name == "href" || name == "src") && scriptURL(a.Value) {
					return errors.New("script URLs are not allowed")
				}
			}
			if t.Name.Local == "img" {
				content = true
			}
			depth++
		case xml.EndElement:
			depth--
		case xml.CharData:
			if strings.TrimSpace(string(t)) != "" {
				if depth == 0 {
					return errors.New("text outside the div")
				}
				content = true
			}
		case xml.ProcInst, xml.Directive:
			return errors.New("processing instructions and directives are not allowed")
		}
	}
	if !content {
		return errors.New("it has no content (invariant txt-2)")
	}
	return nil
}

// scriptURL reports a URL that would run code when followed.
func scriptURL(u string) bool {
	u = strings.ToLower(strings.Join(strings.Fields(u), ""))
	return strings.HasPrefix(u, "javascript:") || strings.HasPrefix(u, "vbscript:") ||
		strings.HasPrefix(u, "data:text/html")
}

func trim(s string) string {
	if len(s) > 20 {
		return s[:20]
	}
	return s
}
