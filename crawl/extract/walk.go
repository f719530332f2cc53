package extract

import (
	"bytes"
	"net/url"
	"strings"
	"sync"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// The extractor sees a page as a stream of element starts, element ends and
// text, fed either by a walk over the parsed tree (the normal path) or by the
// streaming tokenizer (for documents too deep for the tree parser). One pass
// records raw references; finish resolves and cleans them, because <base
// href> applies to references before it too.

// imageRef is an image found in the page, before resolution.
type imageRef struct {
	url           string // raw reference as written
	alt           string
	title, title2 string // title and data-image-title
	ariaLabel     string
	describedBy   string // aria-describedby: space-separated ids
	box           int32  // innermost caption container (index into extractor.boxes), -1 if none
}

// boxKind is the markup family of a caption container: it says which elements inside hold the
// container's caption and which caption_source the caption gets.
type boxKind uint8

const (
	boxFigure    boxKind = iota // <figure> with <figcaption>
	boxMediaWiki                // figure[typeof~=mw:File/…] with figcaption; div.thumb with .thumbcaption; li.gallerybox with .gallerytext
	boxWordPress                // .wp-caption with .wp-caption-text
	boxDocFigure                // DocBook / Docutils / Sphinx: div.figure, div.informalfigure, div.mediaobject with p.title, div.caption, p.caption, span.caption-text
)

var boxSources = [...]string{boxFigure: SourceFigcaption, boxMediaWiki: SourceMediaWiki, boxWordPress: SourceWordPress, boxDocFigure: SourceDocFigure}

// captionBox is one caption container met in the page. A DocBook figure has two captions: its
// title ("Figure 2.1. …", label removed) and the caption under the image.
type captionBox struct {
	kind           boxKind
	title, caption string // cleaned; "" until found
}

// boxFrame is an open caption container.
type boxFrame struct {
	box  int32     // index into extractor.boxes
	elem atom.Atom // element that opened it
	nest int       // open elements of that type, itself included: the box closes at 0
}

// ogImage is one og:image (or twitter:image) with its alternates and alt.
type ogImage struct {
	url, secure, alt string
	urlAlias         bool // og:image:url already seen for this image
}

type captureKind uint8

const (
	captureNone    captureKind = iota
	captureTitle               // the page's <title>
	captureCaption             // a caption element of the innermost caption container
)

// maxCaptureBytes bounds the text gathered for one figcaption or title; it
// comfortably exceeds MaxCaptionRunes runes with white space.
const maxCaptureBytes = 16 << 10

type extractor struct {
	pageURL *url.URL

	lang, metaLang string
	title          string
	titleDone      bool
	baseHref       string
	baseSet        bool
	noIndex        bool
	noFollow       bool
	noImageIndex   bool
	skipLinks      bool // Candidates: the caller wants no links

	images   []imageRef
	og       []ogImage
	twitter  []ogImage
	rawLinks []string
	linkSeen map[string]struct{}

	boxes    []captionBox
	boxStack []boxFrame
	picStack []imgChoice

	capture      captureKind
	captureElem  atom.Atom // element whose text is captured
	captureNest  int       // elements of that type open, itself included
	captureBox   int32     // container whose caption is captured
	captureTitle bool      // into the box's title slot (DocBook p.title)
	buf          []byte

	roots []*html.Node // the parsed tree(s), for aria-describedby look-ups in finish

	res      resolver
	pairSeen map[pairKey]struct{}
	linkOut  map[string]struct{}
}

type pairKey struct{ url, caption string }

var pool = sync.Pool{New: func() any {
	return &extractor{
		linkSeen: make(map[string]struct{}),
		pairSeen: make(map[pairKey]struct{}),
		linkOut:  make(map[string]struct{}),
	}
}}

func getExtractor(pageURL *url.URL) *extractor {
	x := pool.Get().(*extractor)
	x.pageURL = pageURL
	return x
}

// maxPooledMap: a map that held more entries than this is dropped rather
// than cleared, since clearing costs in proportion to the capacity a map
// once grew to, and would tax every later small page.
const maxPooledMap = 64

func putExtractor(x *extractor) {
	x.reset()
	pool.Put(x)
}

// reset empties x for the next page, keeping its buffers.
func (x *extractor) reset() {
	resetMap(&x.linkSeen)
	resetMap(&x.linkOut)
	switch n := len(x.pairSeen); {
	case n > maxPooledMap:
		x.pairSeen = make(map[pairKey]struct{})
	case n > 0:
		clear(x.pairSeen)
	}
	clear(x.images)
	clear(x.og)
	clear(x.twitter)
	clear(x.rawLinks)
	clear(x.boxes)
	clear(x.roots)
	buf := x.buf[:0]
	if cap(buf) > maxCaptureBytes*2 {
		buf = nil
	}
	*x = extractor{
		images:   x.images[:0],
		og:       x.og[:0],
		twitter:  x.twitter[:0],
		rawLinks: x.rawLinks[:0],
		linkSeen: x.linkSeen,
		boxes:    x.boxes[:0],
		boxStack: x.boxStack[:0],
		picStack: x.picStack[:0],
		roots:    x.roots[:0],
		buf:      buf,
		pairSeen: x.pairSeen,
		linkOut:  x.linkOut,
	}
}

func resetMap(m *map[string]struct{}) {
	switch n := len(*m); {
	case n > maxPooledMap:
		*m = make(map[string]struct{})
	case n > 0:
		clear(*m)
	}
}

// walk visits the tree under root in document order without recursion.
func (x *extractor) walk(root *html.Node) {
	x.roots = append(x.roots, root)
	n := root
	for n != nil {
		descend := true
		switch n.Type {
		case html.ElementNode:
			descend = n.Namespace == "" && x.start(n.DataAtom, n.Attr)
		case html.TextNode:
			if x.capture != captureNone {
				x.text(n.Data)
			}
			descend = false
		case html.DocumentNode:
		default:
			descend = false
		}
		if descend && n.FirstChild != nil {
			n = n.FirstChild
			continue
		}
		for {
			if n.Type == html.ElementNode && n.Namespace == "" {
				x.end(n.DataAtom)
			}
			if n == root {
				return
			}
			if n.NextSibling != nil {
				n = n.NextSibling
				break
			}
			n = n.Parent
		}
	}
}

// tokenize feeds the extractor from the streaming tokenizer. Unlike the tree
// parser it applies no implied end tags, which only matters for the rare
// markup that leaves a <figure> or <picture> open.
func (x *extractor) tokenize(body []byte) {
	z := html.NewTokenizer(bytes.NewReader(body))
	var attrs []html.Attribute
	var skip atom.Atom // element whose content is skipped (svg, math, template, script…)
	skipDepth := 0
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			return
		case html.TextToken:
			if skipDepth == 0 && x.capture != captureNone {
				x.text(string(z.Text()))
			}
		case html.StartTagToken, html.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			a := atom.Lookup(name)
			if skipDepth > 0 {
				if a == skip && tt == html.StartTagToken {
					skipDepth++
				}
				continue
			}
			attrs = attrs[:0]
			if hasAttr && wantsAttrs(a) {
				for hasAttr {
					var k, v []byte
					k, v, hasAttr = z.TagAttr()
					attrs = append(attrs, html.Attribute{Key: string(k), Val: string(v)})
				}
			}
			if !x.start(a, attrs) {
				if tt == html.StartTagToken && !isVoid(a) {
					skip, skipDepth = a, 1
				}
				continue
			}
			if a == atom.Noscript {
				// Read <noscript> content as markup, like the tree walk.
				z.NextIsNotRawText()
			}
		case html.EndTagToken:
			name, _ := z.TagName()
			a := atom.Lookup(name)
			if skipDepth > 0 {
				if a == skip {
					skipDepth--
				}
				continue
			}
			x.end(a)
		}
	}
}

// wantsAttrs reports elements whose attributes the extractor reads.
func wantsAttrs(a atom.Atom) bool {
	switch a {
	case atom.Html, atom.Base, atom.Meta, atom.Img, atom.Source, atom.A, atom.Area,
		atom.Figure, atom.Div, atom.Li, atom.Dl, atom.Dd, atom.P, atom.Span, atom.Figcaption: // caption containers
		return true
	}
	return false
}

func isVoid(a atom.Atom) bool {
	switch a {
	case atom.Area, atom.Base, atom.Br, atom.Col, atom.Embed, atom.Hr, atom.Img, atom.Input,
		atom.Link, atom.Meta, atom.Source, atom.Track, atom.Wbr:
		return true
	}
	return false
}

// inlineInCaption are elements that don't separate words in caption text.
func inlineInCaption(a atom.Atom) bool {
	switch a {
	case atom.A, atom.Abbr, atom.B, atom.Bdi, atom.Bdo, atom.Cite, atom.Code, atom.Data,
		atom.Dfn, atom.Em, atom.I, atom.Kbd, atom.Mark, atom.Q, atom.S, atom.Samp,
		atom.Small, atom.Span, atom.Strong, atom.Sub, atom.Sup, atom.Time, atom.U,
		atom.Var, atom.Font, atom.Tt, atom.Strike, atom.Big, atom.Nobr, atom.Label:
		return true
	}
	return false
}

// skipContent reports elements whose content holds no page text or images
// for us: scripts, styles, inert templates, foreign SVG/MathML, form widgets
// and embedded documents.
func skipContent(a atom.Atom) bool {
	switch a {
	case atom.Script, atom.Style, atom.Template, atom.Svg, atom.Math, atom.Textarea,
		atom.Select, atom.Iframe, atom.Object:
		return true
	}
	return false
}

// notCaptionText reports elements inside a caption whose text is not caption
// text: a documentation generator's self-link anchor (class="headerlink", a
// pilcrow) and Sphinx's figure number (span.caption-number, "Fig. 1").
func notCaptionText(a atom.Atom, attrs []html.Attribute) bool {
	switch a {
	case atom.A:
		return hasToken(classOf(attrs), "headerlink")
	case atom.Span:
		return hasToken(classOf(attrs), "caption-number")
	}
	return false
}

func classOf(attrs []html.Attribute) string {
	v, _ := attr(attrs, "class")
	return v
}

// openBox returns the kind of caption container a element opens, if any.
func (x *extractor) openBox(a atom.Atom, attrs []html.Attribute) (boxKind, bool) {
	switch a {
	case atom.Figure:
		if c := classOf(attrs); hasToken(c, "wp-caption") || hasToken(c, "gallery-item") {
			return boxWordPress, true
		}
		if t, ok := attr(attrs, "typeof"); ok {
			for _, f := range strings.Fields(t) {
				if strings.HasPrefix(f, "mw:File") || strings.HasPrefix(f, "mw:Image") {
					return boxMediaWiki, true
				}
			}
		}
		return boxFigure, true
	case atom.Div:
		// Inside a container of its own kind (a DocBook figure's mediaobject, a MediaWiki
		// gallery box's thumb) a div holds part of that container, captions included.
		inside := boxKind(255)
		if n := len(x.boxStack); n > 0 {
			inside = x.boxes[x.boxStack[n-1].box].kind
		}
		for _, c := range strings.Fields(classOf(attrs)) {
			switch c {
			case "thumb":
				if inside != boxMediaWiki {
					return boxMediaWiki, true
				}
			case "wp-caption":
				return boxWordPress, true
			case "figure", "informalfigure", "mediaobject":
				if inside != boxDocFigure {
					return boxDocFigure, true
				}
			}
		}
	case atom.Li:
		if hasToken(classOf(attrs), "gallerybox") {
			return boxMediaWiki, true
		}
	case atom.Dl:
		if hasToken(classOf(attrs), "gallery-item") { // WordPress gallery without HTML5 support
			return boxWordPress, true
		}
	}
	return 0, false
}

// captionOf reports whether element a holds the caption of a container of kind k, and whether
// it is a DocBook figure title.
func captionOf(k boxKind, a atom.Atom, attrs []html.Attribute) (ok, title bool) {
	switch a {
	case atom.Figcaption:
		return k != boxDocFigure, false
	case atom.Div, atom.P, atom.Span, atom.Dd:
	default:
		return false, false
	}
	for _, c := range strings.Fields(classOf(attrs)) {
		switch k {
		case boxMediaWiki:
			if c == "thumbcaption" || c == "gallerytext" {
				return true, false
			}
		case boxWordPress:
			if c == "wp-caption-text" {
				return true, false
			}
		case boxDocFigure:
			switch {
			case c == "title" && a == atom.P:
				return true, true
			case c == "caption" && a != atom.Span, c == "caption-text" && a == atom.Span:
				return true, false
			}
		}
	}
	return false, false
}

// start handles an element start and reports whether its content should be
// visited.
func (x *extractor) start(a atom.Atom, attrs []html.Attribute) bool {
	if x.capture == captureCaption {
		if notCaptionText(a, attrs) {
			return false
		}
		if !inlineInCaption(a) && !skipContent(a) {
			x.text(" ")
		}
		if a == x.captureElem {
			x.captureNest++
		}
	}
	if skipContent(a) {
		return false
	}
	for i := range x.boxStack {
		if x.boxStack[i].elem == a {
			x.boxStack[i].nest++
		}
	}
	switch a {
	case atom.Html:
		for _, at := range attrs {
			if at.Key == "lang" || (at.Key == "xml:lang" && x.lang == "") {
				if l := normalizeLang(at.Val); l != "" {
					x.lang = l
				}
			}
		}
	case atom.Base:
		if !x.baseSet {
			if v, ok := attr(attrs, "href"); ok {
				x.baseHref, x.baseSet = v, true
			}
		}
	case atom.Meta:
		x.meta(attrs)
	case atom.Title:
		if !x.titleDone && x.capture == captureNone {
			x.capture = captureTitle
			x.buf = x.buf[:0]
		}
	case atom.Img:
		x.img(attrs)
	case atom.Source:
		if len(x.picStack) > 0 {
			x.source(attrs)
		}
	case atom.Picture:
		x.picStack = append(x.picStack, imgChoice{})
	case atom.A, atom.Area:
		x.link(attrs)
	case atom.Figure, atom.Div, atom.Li, atom.Dl, atom.Dd, atom.P, atom.Span, atom.Figcaption:
		if k, ok := x.openBox(a, attrs); ok {
			x.boxStack = append(x.boxStack, boxFrame{box: int32(len(x.boxes)), elem: a, nest: 1})
			x.boxes = append(x.boxes, captionBox{kind: k})
			break
		}
		if x.capture != captureNone || len(x.boxStack) == 0 {
			break
		}
		top := x.boxStack[len(x.boxStack)-1].box
		b := &x.boxes[top]
		if ok, title := captionOf(b.kind, a, attrs); ok && (title && b.title == "" || !title && b.caption == "") {
			x.capture, x.captureElem, x.captureNest = captureCaption, a, 1
			x.captureBox, x.captureTitle = top, title
			x.buf = x.buf[:0]
		}
	}
	return true
}

// endCaption stores the captured caption text in its container.
func (x *extractor) endCaption() {
	b := &x.boxes[x.captureBox]
	text := cleanText(string(x.buf), MaxCaptionRunes)
	if x.captureTitle {
		b.title = stripFigureLabel(text)
	} else {
		b.caption = text
	}
	x.capture = captureNone
}

func (x *extractor) end(a atom.Atom) {
	switch x.capture {
	case captureTitle:
		if a == atom.Title {
			x.title = cleanText(string(x.buf), MaxCaptionRunes)
			x.titleDone = true
			x.capture = captureNone
		}
	case captureCaption:
		if !inlineInCaption(a) && !skipContent(a) {
			x.text(" ")
		}
		if a == x.captureElem {
			x.captureNest--
			if x.captureNest == 0 {
				x.endCaption()
			}
		}
	}
	switch a {
	case atom.Picture:
		if len(x.picStack) > 0 {
			x.picStack = x.picStack[:len(x.picStack)-1]
		}
	case atom.Figure, atom.Div, atom.Li, atom.Dl:
		for i := len(x.boxStack) - 1; i >= 0; i-- {
			f := &x.boxStack[i]
			if f.elem != a {
				continue
			}
			if f.nest--; f.nest > 0 {
				continue
			}
			// The container ends, and with it any left open inside it (tokenizer path) and a
			// caption left open.
			for _, g := range x.boxStack[i:] {
				if x.capture == captureCaption && x.captureBox == g.box {
					x.endCaption()
				}
			}
			x.boxStack = x.boxStack[:i]
			break
		}
	}
}

func (x *extractor) text(s string) {
	if room := maxCaptureBytes - len(x.buf); room > 0 {
		if len(s) > room {
			s = s[:room]
		}
		x.buf = append(x.buf, s...)
	}
}

func attr(attrs []html.Attribute, key string) (string, bool) {
	for _, a := range attrs {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

func (x *extractor) meta(attrs []html.Attribute) {
	var name, content, httpEquiv string
	hasContent := false
	for _, a := range attrs {
		switch a.Key {
		case "name", "property":
			if name == "" {
				name = a.Val
			}
		case "content":
			content, hasContent = a.Val, true
		case "http-equiv":
			httpEquiv = a.Val
		}
	}
	if !hasContent {
		return
	}
	if httpEquiv != "" {
		if strings.EqualFold(strings.TrimSpace(httpEquiv), "content-language") && x.metaLang == "" {
			first, _, _ := strings.Cut(content, ",")
			x.metaLang = normalizeLang(first)
		}
		return
	}
	name = strings.TrimSpace(name)
	switch {
	case strings.EqualFold(name, "robots"):
		x.robots(content)
	case strings.EqualFold(name, "og:image"):
		x.og = append(x.og, ogImage{url: content})
	case strings.EqualFold(name, "og:image:url"):
		if n := len(x.og); n > 0 && !x.og[n-1].urlAlias {
			// og:image:url after og:image names the same image.
			x.og[n-1].urlAlias = true
			if x.og[n-1].url == "" {
				x.og[n-1].url = content
			}
		} else {
			x.og = append(x.og, ogImage{url: content, urlAlias: true})
		}
	case strings.EqualFold(name, "og:image:secure_url"):
		if n := len(x.og); n > 0 && x.og[n-1].secure == "" {
			x.og[n-1].secure = content
		} else {
			x.og = append(x.og, ogImage{secure: content})
		}
	case strings.EqualFold(name, "og:image:alt"):
		if n := len(x.og); n > 0 && x.og[n-1].alt == "" {
			x.og[n-1].alt = content
		}
	case strings.EqualFold(name, "twitter:image"), strings.EqualFold(name, "twitter:image:src"):
		x.twitter = append(x.twitter, ogImage{url: content})
	case strings.EqualFold(name, "twitter:image:alt"):
		if n := len(x.twitter); n > 0 && x.twitter[n-1].alt == "" {
			x.twitter[n-1].alt = content
		}
	}
}

func (x *extractor) robots(content string) {
	for _, tok := range strings.FieldsFunc(content, func(r rune) bool {
		return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r'
	}) {
		switch strings.ToLower(tok) {
		case "noindex":
			x.noIndex = true
		case "nofollow":
			x.noFollow = true
		case "none":
			x.noIndex, x.noFollow = true, true
		case "noimageindex":
			x.noImageIndex = true
		}
	}
}

func (x *extractor) img(attrs []html.Attribute) {
	var src, srcset, dataSrcset, lazySrc, width, height string
	var ref imageRef
	for _, a := range attrs {
		switch a.Key {
		case "src":
			src = a.Val
		case "srcset":
			srcset = a.Val
		case "data-srcset", "data-lazy-srcset":
			if dataSrcset == "" {
				dataSrcset = a.Val
			}
		case "data-src", "data-lazy-src", "data-original":
			if lazySrc == "" || isPlaceholder(lazySrc) {
				lazySrc = a.Val
			}
		case "alt":
			ref.alt = a.Val
		case "title":
			ref.title = a.Val
		case "data-image-title":
			ref.title2 = a.Val
		case "aria-label":
			ref.ariaLabel = a.Val
		case "aria-describedby":
			ref.describedBy = a.Val
		case "width":
			width = a.Val
		case "height":
			height = a.Val
		}
	}
	choice := imgChoice{}
	if srcset != "" {
		choice = largestInSrcset(srcset)
	}
	trackingPixel := strings.TrimSpace(width) == "1" && strings.TrimSpace(height) == "1"
	if !trackingPixel && !isPlaceholder(src) {
		if c := (imgChoice{url: src, x: 1}); c.better(choice) {
			choice = c
		}
	}
	if choice.url == "" {
		// Lazy loading: the real image waits in data-* attributes.
		if dataSrcset != "" {
			choice = largestInSrcset(dataSrcset)
		}
		if choice.url == "" && !isPlaceholder(lazySrc) {
			choice = imgChoice{url: lazySrc, x: 1}
		}
	}
	if n := len(x.picStack); n > 0 && x.picStack[n-1].better(choice) {
		choice = x.picStack[n-1]
	}
	if choice.url == "" {
		return
	}
	ref.url = choice.url
	ref.box = -1
	if n := len(x.boxStack); n > 0 {
		ref.box = x.boxStack[n-1].box
	}
	x.images = append(x.images, ref)
}

// unsupportedSourceType: <picture> sources in formats the fetch stage can't
// decode are passed over in favour of the others (or the <img>).
func unsupportedSourceType(t string) bool {
	t = strings.ToLower(strings.TrimSpace(t))
	return strings.HasPrefix(t, "image/avif") || strings.HasPrefix(t, "image/jxl") ||
		strings.HasPrefix(t, "image/svg") || strings.HasPrefix(t, "image/heic") ||
		strings.HasPrefix(t, "image/heif")
}

func (x *extractor) source(attrs []html.Attribute) {
	var srcset, dataSrcset string
	for _, a := range attrs {
		switch a.Key {
		case "srcset":
			srcset = a.Val
		case "data-srcset", "data-lazy-srcset":
			dataSrcset = a.Val
		case "type":
			if unsupportedSourceType(a.Val) {
				return
			}
		}
	}
	c := largestInSrcset(srcset)
	if c.url == "" && dataSrcset != "" {
		c = largestInSrcset(dataSrcset)
	}
	if top := &x.picStack[len(x.picStack)-1]; c.better(*top) {
		*top = c
	}
}

func (x *extractor) link(attrs []html.Attribute) {
	var href string
	has := false
	for _, a := range attrs {
		switch a.Key {
		case "href":
			href, has = a.Val, true
		case "rel":
			if hasToken(a.Val, "nofollow") {
				return
			}
		}
	}
	if !has || x.skipLinks || len(x.rawLinks) >= 4*MaxLinks {
		return
	}
	href = trimURLSpace(href)
	if href == "" || href[0] == '#' || obviouslyNotHTTP(href) {
		return
	}
	if _, seen := x.linkSeen[href]; seen {
		return
	}
	x.linkSeen[href] = struct{}{}
	x.rawLinks = append(x.rawLinks, href)
}

// hasToken reports whether the space-separated list s holds tok (ASCII case-insensitive).
func hasToken(s, tok string) bool {
	for _, f := range strings.Fields(s) {
		if strings.EqualFold(f, tok) {
			return true
		}
	}
	return false
}

// normalizeLang lower-cases a language tag and checks its shape (letters,
// digits and hyphens, '_' read as '-'); anything else gives "".
func normalizeLang(s string) string {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 35 {
		return ""
	}
	b := []byte(s)
	for i, c := range b {
		switch {
		case 'A' <= c && c <= 'Z':
			b[i] = c + 'a' - 'A'
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case c == '-' || c == '_':
			if i == 0 || i == len(b)-1 {
				return ""
			}
			b[i] = '-'
		default:
			return ""
		}
	}
	return string(b)
}

// finish resolves the recorded references and builds the Page.
func (x *extractor) finish() *Page {
	p := &Page{NoFollow: x.noFollow, NoIndex: x.noIndex, Title: x.title}
	p.Lang = x.lang
	if p.Lang == "" {
		p.Lang = x.metaLang
	}
	switch {
	case x.capture == captureTitle && !x.titleDone:
		p.Title = cleanText(string(x.buf), MaxCaptionRunes)
	case x.capture == captureCaption:
		x.endCaption() // left open at the end of the document
	}

	base := x.pageURL
	if x.baseSet {
		if ref, err := url.Parse(trimURLSpace(x.baseHref)); err == nil {
			if b := x.pageURL.ResolveReference(ref); normalizeURL(b) != "" {
				base = b
			}
		}
	}
	x.res.init(base)

	if !x.noIndex && !x.noImageIndex {
		p.Candidates = x.candidates()
	}
	if !x.noFollow {
		self := ""
		var pr resolver
		pr.init(x.pageURL)
		self = pr.self
		for _, raw := range x.rawLinks {
			if len(p.Links) >= MaxLinks {
				break
			}
			u := x.res.resolve(raw)
			if u == "" || u == self {
				continue
			}
			if _, dup := x.linkOut[u]; dup {
				continue
			}
			x.linkOut[u] = struct{}{}
			p.Links = append(p.Links, u)
		}
	}
	return p
}

func (x *extractor) candidates() []Candidate {
	var out []Candidate
	add := func(u, caption, source string) {
		if caption == "" || len(out) >= MaxCandidates {
			return
		}
		k := pairKey{u, caption}
		if _, dup := x.pairSeen[k]; dup {
			return
		}
		x.pairSeen[k] = struct{}{}
		out = append(out, Candidate{ImageURL: u, Caption: caption, Source: source})
	}
	for _, group := range [2][]ogImage{x.og, x.twitter} {
		for _, g := range group {
			if g.alt == "" {
				continue
			}
			u := ""
			if g.secure != "" && !isPlaceholder(g.secure) {
				u = x.res.resolve(g.secure)
			}
			if u == "" && !isPlaceholder(g.url) {
				u = x.res.resolve(g.url)
			}
			if u != "" {
				add(u, cleanText(g.alt, MaxCaptionRunes), SourceOG)
			}
		}
	}
	described := x.describedTexts()
	for i := range x.images {
		if len(out) >= MaxCandidates {
			break
		}
		im := &x.images[i]
		var box *captionBox
		if im.box >= 0 {
			box = &x.boxes[im.box]
		}
		if im.alt == "" && im.title == "" && im.title2 == "" && im.ariaLabel == "" && im.describedBy == "" &&
			(box == nil || box.title == "" && box.caption == "") {
			continue
		}
		u := x.res.resolve(im.url)
		if u == "" {
			continue
		}
		add(u, cleanText(im.alt, MaxCaptionRunes), SourceAlt)
		add(u, cleanText(im.title, MaxCaptionRunes), SourceTitle)
		add(u, cleanText(im.title2, MaxCaptionRunes), SourceTitle)
		if box != nil {
			add(u, box.title, boxSources[box.kind])
			add(u, box.caption, boxSources[box.kind])
		}
		add(u, cleanText(im.ariaLabel, MaxCaptionRunes), SourceARIALabel)
		for _, id := range strings.Fields(im.describedBy) {
			add(u, described[id], SourceARIADescribedBy)
		}
	}
	return out
}

// describedTexts finds the text of the elements that images name in aria-describedby, by id,
// wherever they are in the page. It needs the parsed tree, so the tokenizer path (documents
// too deep for the tree parser) does without; pages that use no aria-describedby cost nothing.
func (x *extractor) describedTexts() map[string]string {
	var want map[string]string
	for i := range x.images {
		for _, id := range strings.Fields(x.images[i].describedBy) {
			if want == nil {
				want = map[string]string{}
			}
			want[id] = ""
		}
	}
	if want == nil || len(x.roots) == 0 {
		return nil
	}
	left := len(want)
	for _, root := range x.roots {
		for n := range root.Descendants() {
			if left == 0 {
				return want
			}
			if n.Type != html.ElementNode {
				continue
			}
			id, ok := attr(n.Attr, "id")
			if text, wanted := want[id]; !ok || !wanted || text != "" {
				continue
			}
			want[id] = cleanText(nodeText(n), MaxCaptionRunes)
			left--
		}
	}
	return want
}

// nodeText is the text under n as a caption: scripts and the like skipped, block elements
// separating words, at most maxCaptureBytes.
func nodeText(n *html.Node) string {
	var b []byte
	var visit func(*html.Node)
	visit = func(n *html.Node) {
		for c := n.FirstChild; c != nil && len(b) < maxCaptureBytes; c = c.NextSibling {
			switch c.Type {
			case html.TextNode:
				b = append(b, c.Data[:min(len(c.Data), maxCaptureBytes-len(b))]...)
			case html.ElementNode:
				if skipContent(c.DataAtom) || notCaptionText(c.DataAtom, c.Attr) {
					continue
				}
				block := !inlineInCaption(c.DataAtom)
				if block {
					b = append(b, ' ')
				}
				visit(c)
				if block {
					b = append(b, ' ')
				}
			}
		}
	}
	visit(n)
	return string(b)
}
