package extract

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/PuerkitoBio/goquery"
	"golang.org/x/net/html"
	"golang.org/x/net/html/charset"
	"golang.org/x/text/encoding"
)

// Caption sources, the values of Candidate.Source (and of the crawl output's
// caption_source column).
const (
	SourceAlt        = "alt"
	SourceTitle      = "title"      // title or data-image-title
	SourceFigcaption = "figcaption" // the enclosing <figure>'s <figcaption>
	SourceOG         = "og"         // og:image:alt, twitter:image:alt
	// SourceMediaWiki: a MediaWiki thumbnail or gallery caption (figure[typeof~=mw:File/…]
	// with figcaption, div.thumb with div.thumbcaption, li.gallerybox with div.gallerytext).
	SourceMediaWiki = "mediawiki"
	// SourceWordPress: a WordPress caption (.wp-caption with .wp-caption-text).
	SourceWordPress = "wordpress"
	// SourceDocFigure: a DocBook, Docutils or Sphinx figure's title (without its "Figure 2.1."
	// label) or caption (div.figure, div.informalfigure or div.mediaobject with p.title,
	// div.caption, p.caption or span.caption-text).
	SourceDocFigure = "doc_figure"
	// SourceARIALabel: the image's aria-label.
	SourceARIALabel = "aria_label"
	// SourceARIADescribedBy: the text of the elements the image's aria-describedby names.
	SourceARIADescribedBy = "aria_describedby"
)

// Sources lists every caption source, in the order a candidate's captions are taken.
var Sources = []string{SourceOG, SourceAlt, SourceTitle, SourceFigcaption, SourceMediaWiki,
	SourceWordPress, SourceDocFigure, SourceARIALabel, SourceARIADescribedBy}

// Limits that keep one hostile page from costing unbounded memory downstream.
const (
	// MaxCaptionRunes caps a caption (and the page title); longer text is cut at a
	// rune boundary.
	MaxCaptionRunes = 1000
	// MaxCandidates caps the candidates of one page; the first ones in document
	// order (og/twitter images first) are kept.
	MaxCandidates = 20000
	// MaxLinks caps the links of one page, first ones in document order kept.
	MaxLinks = 20000
)

// ErrNotHTML is wrapped by Extract's error when the body is not an HTML document
// (by its Content-Type, or by sniffing when the type is missing or generic).
var ErrNotHTML = errors.New("not an HTML document")

// Candidate is one (image URL, caption) pair found on a page.
type Candidate struct {
	ImageURL string // absolute, http(s), normalised
	Caption  string // cleaned UTF-8 text, never empty
	Source   string // one of Sources
}

// Page is what Extract finds in one HTML document.
type Page struct {
	Lang       string      // <html lang> (or Content-Language meta), lower-cased: "en", "de-ch"; "" if absent
	Title      string      // cleaned <title> text
	Candidates []Candidate // empty when the page is noindex (or noimageindex)
	Links      []string    // absolute, http(s), normalised, fragment-free, unique; empty when NoFollow
	NoFollow   bool        // <meta name=robots content=nofollow|none>
	NoIndex    bool        // <meta name=robots content=noindex|none>
}

// Extract parses an HTML page fetched from pageURL and returns its image
// candidates, links and metadata. contentType is the response's Content-Type
// header ("" if none); its charset, a BOM or a <meta> declaration select the
// decoding, so the output is always valid UTF-8.
//
// Bodies that are not HTML (see IsHTML) give an error wrapping ErrNotHTML.
// Malformed markup never fails: it is parsed the way a browser would, and a
// document nested too deeply for the tree parser is read with a streaming
// tokenizer instead. An empty HTML body gives an empty Page.
func Extract(pageURL *url.URL, body []byte, contentType string) (*Page, error) {
	return extractPage(pageURL, body, contentType, true)
}

// Candidates is Extract without the links (Page.Links stays empty), for readers of archives
// that follow no links: the same candidates, language and robots flags, less work.
func Candidates(pageURL *url.URL, body []byte, contentType string) (*Page, error) {
	return extractPage(pageURL, body, contentType, false)
}

func extractPage(pageURL *url.URL, body []byte, contentType string, links bool) (*Page, error) {
	if err := checkPageURL(pageURL); err != nil {
		return nil, err
	}
	if !IsHTML(contentType, body) {
		return nil, fmt.Errorf("extract %s: %w (content type %q)", pageURL.Redacted(), ErrNotHTML, contentType)
	}
	body = toUTF8(body, contentType)

	x := getExtractor(pageURL)
	defer putExtractor(x)
	x.skipLinks = !links
	// Scripting off: <noscript> content is parsed as markup, which is how a
	// crawler without JavaScript sees the page (and where lazy-loading sites
	// put their plain <img>).
	root, err := html.ParseWithOptions(bytes.NewReader(body), html.ParseOptionEnableScripting(false))
	if err != nil {
		// x/net/html refuses documents nested deeper than 512 elements; the
		// tokenizer has no such limit.
		slog.Debug("extract: tree parse failed, using tokenizer", "url", pageURL.Redacted(), "err", err)
		x.reset()
		x.pageURL, x.skipLinks = pageURL, !links
		x.tokenize(body)
	} else {
		x.walk(root)
	}
	return x.finish(), nil
}

// FromDocument extracts from a document that is already parsed, such as the
// goquery document a colly callback receives, saving a second parse. The
// document's text must already be UTF-8 (goquery and colly decode it).
func FromDocument(pageURL *url.URL, doc *goquery.Document) (*Page, error) {
	if err := checkPageURL(pageURL); err != nil {
		return nil, err
	}
	if doc == nil {
		return nil, fmt.Errorf("extract %s: nil document", pageURL.Redacted())
	}
	x := getExtractor(pageURL)
	defer putExtractor(x)
	for _, n := range doc.Nodes {
		x.walk(n)
	}
	return x.finish(), nil
}

func checkPageURL(u *url.URL) error {
	if u == nil {
		return errors.New("extract: nil page URL")
	}
	if s := strings.ToLower(u.Scheme); (s != "http" && s != "https") || u.Host == "" {
		return fmt.Errorf("extract %s: page URL must be absolute http(s)", u.Redacted())
	}
	return nil
}

// genericTypes are Content-Types that say nothing about the body, so the body
// is sniffed instead.
var genericTypes = map[string]bool{
	"":                           true,
	"application/octet-stream":   true,
	"binary/octet-stream":        true,
	"application/unknown":        true,
	"unknown/unknown":            true,
	"application/x-unknown":      true,
	"*/*":                        true,
	"application/x-download":     true,
	"application/force-download": true,
}

// IsHTML reports whether a response is an HTML document: its Content-Type is
// text/html or application/xhtml+xml, or the type is missing, unparsable or
// generic (application/octet-stream and the like) and the body sniffs as HTML.
// An explicit other type (text/plain, image/png, application/json…) is not
// HTML, as in a browser.
func IsHTML(contentType string, body []byte) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt = ""
	}
	switch mt {
	case "text/html", "application/xhtml+xml":
		return true
	}
	if !genericTypes[mt] {
		return false
	}
	return sniffHTML(body)
}

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

func sniffHTML(body []byte) bool {
	body = bytes.TrimPrefix(body, utf8BOM)
	if len(body) > 512 {
		body = body[:512]
	}
	ct := http.DetectContentType(body)
	if strings.HasPrefix(ct, "text/html") {
		return true
	}
	// XHTML served without a type starts with an XML declaration.
	if strings.HasPrefix(ct, "text/xml") {
		return indexFold(body, "<html") >= 0
	}
	return false
}

// indexFold is a case-insensitive bytes.Index for an ASCII lower-case needle.
func indexFold(b []byte, needle string) int {
	for i := 0; i+len(needle) <= len(b); i++ {
		match := true
		for j := 0; j < len(needle); j++ {
			c := b[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != needle[j] {
				match = false
				break
			}
		}
		if match {
			return i
		}
	}
	return -1
}

// toUTF8 returns body decoded to UTF-8. The encoding comes from, in order, a
// BOM, the Content-Type charset, a <meta> declaration (or an XML declaration),
// else windows-1252, the HTML default. One exception: a body that is entirely
// valid UTF-8 is read as UTF-8 whatever 8-bit charset is declared, since
// mislabelled UTF-8 is far more common on the web than legacy text that happens
// to be valid UTF-8. The result may still contain invalid UTF-8 when the page
// declares UTF-8 but is not; the extractor cleans every string it outputs.
func toUTF8(body []byte, contentType string) []byte {
	if bytes.HasPrefix(body, utf8BOM) {
		return body[len(utf8BOM):]
	}
	enc, name, certain := charset.DetermineEncoding(body, contentType)
	if name == "utf-8" {
		return body
	}
	isBOM := certain && (bytes.HasPrefix(body, []byte{0xFE, 0xFF}) || bytes.HasPrefix(body, []byte{0xFF, 0xFE}))
	if !isBOM && utf8.Valid(body) {
		return body
	}
	if !certain && name == "windows-1252" {
		if e, ok := xmlDeclEncoding(body); ok {
			enc = e
		}
	}
	out, err := enc.NewDecoder().Bytes(body)
	if err != nil {
		// The WHATWG decoders replace bad input rather than fail; keep a safe
		// fallback all the same.
		return bytes.ToValidUTF8(body, nil)
	}
	return out
}

// xmlDeclEncoding reads encoding="…" from a leading <?xml …?> declaration.
func xmlDeclEncoding(body []byte) (encoding.Encoding, bool) {
	if !bytes.HasPrefix(body, []byte("<?xml")) {
		return nil, false
	}
	end := bytes.Index(body, []byte("?>"))
	if end < 0 || end > 200 {
		return nil, false
	}
	decl := body[:end]
	i := bytes.Index(decl, []byte("encoding"))
	if i < 0 {
		return nil, false
	}
	rest := bytes.TrimLeft(decl[i+len("encoding"):], " \t\r\n")
	if len(rest) == 0 || rest[0] != '=' {
		return nil, false
	}
	rest = bytes.TrimLeft(rest[1:], " \t\r\n")
	if len(rest) < 2 || (rest[0] != '"' && rest[0] != '\'') {
		return nil, false
	}
	q := rest[0]
	j := bytes.IndexByte(rest[1:], q)
	if j < 0 {
		return nil, false
	}
	e, _ := charset.Lookup(string(rest[1 : 1+j]))
	return e, e != nil
}
