package resource

import (
	"encoding/xml"
	"errors"
	"io"
	"strings"
)

// xhtmlNS is the namespace a narrative div must declare.
const xhtmlNS = "http://www.w3.org/1999/xhtml"

// narrativeElements are the XHTML elements a narrative may use: the basic
// formatting of HTML 4.0 chapters 7-11 and 15, links and images (invariant
// txt-1, https://hl7.org/fhir/R4/narrative.html#Narrative). Anything else,
// script above all, is refused: narratives are shown to patients by SMART
// apps.
var narrativeElements = map[string]bool{}

// narrativeAttributes are the attributes a narrative may use (invariant
// txt-3): the basic formatting attributes of HTML 4.0 chapters 7-11 and
// 15 (core: id, class, style, title; language: lang, dir; lists, tables,
// quotations, alignment and fonts), those of links (name, href) and of
// images. Event handlers (on...) are not among them.
var narrativeAttributes = map[string]bool{}

func init() {
	for _, e := range strings.Fields(`a abbr acronym address b bdo big blockquote br caption
		center cite code col colgroup dd del dfn dir div dl dt em font h1 h2 h3 h4 h5 h6 hr i
		img ins kbd li ol p pre q s samp small span strike strong sub sup table tbody td tfoot
		th thead tr tt u ul var`) {
		narrativeElements[e] = true
	}
	for _, a := range strings.Fields(`id class style title lang dir
		name href hreflang rel rev charset type
		src alt width height border hspace vspace longdesc
		summary frame rules cellspacing cellpadding align valign char charoff span
		abbr axis headers scope rowspan colspan nowrap bgcolor
		cite datetime start value compact clear size color face noshade`) {
		narrativeAttributes[a] = true
	}
}

// checkXHTML applies txt-1 to txt-3: a div in the XHTML namespace, only
// the allowed elements and attributes, no script URLs, and some content.
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
				if !allowedAttribute(a.Name) {
					return errors.New("attribute " + trim(a.Name.Local) + " is not allowed (invariant txt-3)")
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

// allowedAttribute reports whether a narrative may carry an attribute:
// one of narrativeAttributes, xml:lang, or a namespace declaration.
func allowedAttribute(n xml.Name) bool {
	switch n.Space {
	case "":
		return narrativeAttributes[n.Local] || n.Local == "xmlns"
	case "xmlns":
		return true
	case "xml", "http://www.w3.org/XML/1998/namespace":
		return n.Local == "lang"
	}
	return false
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
