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
	figure        int32  // index into extractor.figCaptions, -1 if none
	hasFig        bool
}

// ogImage is one og:image (or twitter:image) with its alternates and alt.
type ogImage struct {
	url, secure, alt string
	urlAlias         bool // og:image:url already seen for this image
}

type captureKind uint8

const (
	captureNone captureKind = iota
	captureTitle
	captureFigcaption
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

	figCaptions []string
	figStack    []int32
	picStack    []imgChoice

	capture     captureKind
	captureNest int   // figcaption elements open inside the one captured
	captureFig  int32 // figure whose caption is captured
	buf         []byte

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
	clear(x.figCaptions)
	buf := x.buf[:0]
	if cap(buf) > maxCaptureBytes*2 {
		buf = nil
	}
	*x = extractor{
		images:      x.images[:0],
		og:          x.og[:0],
		twitter:     x.twitter[:0],
		rawLinks:    x.rawLinks[:0],
		linkSeen:    x.linkSeen,
		figCaptions: x.figCaptions[:0],
		figStack:    x.figStack[:0],
		picStack:    x.picStack[:0],
		buf:         buf,
		pairSeen:    x.pairSeen,
		linkOut:     x.linkOut,
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
	case atom.Html, atom.Base, atom.Meta, atom.Img, atom.Source, atom.A, atom.Area:
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

// isPermalink reports a documentation generator's self-link anchor
// (class="headerlink"), whose text is a pilcrow, not caption text.
func isPermalink(attrs []html.Attribute) bool {
	for _, at := range attrs {
		if at.Key == "class" && hasToken(at.Val, "headerlink") {
			return true
		}
	}
	return false
}

// start handles an element start and reports whether its content should be
// visited.
func (x *extractor) start(a atom.Atom, attrs []html.Attribute) bool {
	if x.capture == captureFigcaption {
		if a == atom.A && isPermalink(attrs) {
			// Sphinx and similar generators end captions with a "¶" anchor.
			return false
		}
		if !inlineInCaption(a) && !skipContent(a) {
			x.text(" ")
		}
		if a == atom.Figcaption {
			x.captureNest++
		}
	}
	if skipContent(a) {
		return false
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
	case atom.Figure:
		x.figStack = append(x.figStack, int32(len(x.figCaptions)))
		x.figCaptions = append(x.figCaptions, "")
	case atom.Figcaption:
		if x.capture == captureNone && len(x.figStack) > 0 {
			fig := x.figStack[len(x.figStack)-1]
			if x.figCaptions[fig] == "" {
				x.capture, x.captureFig, x.captureNest = captureFigcaption, fig, 1
				x.buf = x.buf[:0]
			}
		}
	case atom.A, atom.Area:
		x.link(attrs)
	}
	return true
}

func (x *extractor) end(a atom.Atom) {
	switch x.capture {
	case captureTitle:
		if a == atom.Title {
			x.title = cleanText(string(x.buf), MaxCaptionRunes)
			x.titleDone = true
			x.capture = captureNone
		}
	case captureFigcaption:
		if !inlineInCaption(a) && !skipContent(a) {
			x.text(" ")
		}
		if a == atom.Figcaption {
			x.captureNest--
			if x.captureNest == 0 {
				x.figCaptions[x.captureFig] = cleanText(string(x.buf), MaxCaptionRunes)
				x.capture = captureNone
			}
		}
	}
	switch a {
	case atom.Picture:
		if len(x.picStack) > 0 {
			x.picStack = x.picStack[:len(x.picStack)-1]
		}
	case atom.Figure:
		if len(x.figStack) > 0 {
			if x.capture == captureFigcaption && x.captureFig == x.figStack[len(x.figStack)-1] {
				// A figcaption left open (tokenizer path): close it with its figure.
				x.figCaptions[x.captureFig] = cleanText(string(x.buf), MaxCaptionRunes)
				x.capture = captureNone
			}
			x.figStack = x.figStack[:len(x.figStack)-1]
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
	ref.figure = -1
	if n := len(x.figStack); n > 0 {
		ref.figure, ref.hasFig = x.figStack[n-1], true
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
	if x.capture == captureTitle && !x.titleDone {
		p.Title = cleanText(string(x.buf), MaxCaptionRunes)
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
	for i := range x.images {
		if len(out) >= MaxCandidates {
			break
		}
		im := &x.images[i]
		var fig string
		if im.hasFig {
			fig = x.figCaptions[im.figure]
		}
		if im.alt == "" && im.title == "" && im.title2 == "" && fig == "" {
			continue
		}
		u := x.res.resolve(im.url)
		if u == "" {
			continue
		}
		add(u, cleanText(im.alt, MaxCaptionRunes), SourceAlt)
		add(u, cleanText(im.title, MaxCaptionRunes), SourceTitle)
		add(u, cleanText(im.title2, MaxCaptionRunes), SourceTitle)
		add(u, fig, SourceFigcaption)
	}
	return out
}
