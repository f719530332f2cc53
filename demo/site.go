package demo

import (
	"bytes"
	"embed"
	"encoding/csv"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"net/http"
	"path"
	"slices"
	"strings"
	"sync"
)

//go:embed site
var siteFS embed.FS

// Style folders of the site's images: the training style and the held-out style.
const (
	TrainStyle   = "noto"
	HeldOutStyle = "fluent"
)

// RobotsTxt disallows the members section; its pages must never be crawled.
const RobotsTxt = "User-agent: *\nDisallow: /members/\n"

// Concept is one emoji concept of the site, with its CLDR names and keywords.
type Concept struct {
	Hex, Emoji, Group, Subgroup string
	Name                        string   // CLDR English short name, e.g. "red apple"
	Keywords                    []string // CLDR English keywords
	NameFR, NameDE              string
	KeywordsFR, KeywordsDE      []string
}

// Concepts parses the embedded concepts.tsv (written by scripts/build-demo-site.sh).
func Concepts() ([]Concept, error) {
	f, err := siteFS.Open("site/concepts.tsv")
	if err != nil {
		return nil, fmt.Errorf("demo site: %w", err)
	}
	defer f.Close()
	return parseConcepts(f)
}

func parseConcepts(r io.Reader) ([]Concept, error) {
	cr := csv.NewReader(r)
	cr.Comma = '\t'
	cr.LazyQuotes = true
	rows, err := cr.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("demo concepts: %w", err)
	}
	if len(rows) < 2 {
		return nil, fmt.Errorf("demo concepts: no rows")
	}
	want := []string{"hex", "emoji", "group", "subgroup", "name", "keywords", "name_fr", "keywords_fr", "name_de", "keywords_de"}
	if !slices.Equal(rows[0], want) {
		return nil, fmt.Errorf("demo concepts: header %q, want %q", rows[0], want)
	}
	split := func(s string) []string {
		if s == "" {
			return nil
		}
		return strings.Split(s, "|")
	}
	out := make([]Concept, 0, len(rows)-1)
	for i, r := range rows[1:] {
		if len(r) != len(want) || r[0] == "" || r[4] == "" {
			return nil, fmt.Errorf("demo concepts: row %d malformed", i+2)
		}
		out = append(out, Concept{Hex: r[0], Emoji: r[1], Group: r[2], Subgroup: r[3], Name: r[4], Keywords: split(r[5]),
			NameFR: r[6], KeywordsFR: split(r[7]), NameDE: r[8], KeywordsDE: split(r[9])})
	}
	return out, nil
}

// GroupNames maps the Unicode emoji groups to the words zero-shot prompts use.
var GroupNames = map[string]string{
	"activities":      "activities and games",
	"animals-nature":  "animals and nature",
	"food-drink":      "food and drink",
	"objects":         "objects",
	"people-body":     "people and body",
	"smileys-emotion": "smileys and emotions",
	"symbols":         "symbols and signs",
	"travel-places":   "travel and places",
}

// Site is the sample website: pages generated from the concepts, images from the embedded files.
//
//	/robots.txt                      disallows /members/
//	/                                links to the three languages and the members' area
//	/en/ /fr/ /de/                   language home: links to the group galleries
//	/{lang}/group/{group}.html       gallery: thumbnails (alt = name) linking to concept pages
//	/{lang}/emoji/{hex}.html         concept page: og:image (+alt), a <figure> with srcset and
//	                                 <figcaption>, a lazy <img data-src> of the held-out style
//	/en/misc.html                    junk captions and three broken images
//	/members/...                     disallowed by robots.txt
//	/img/{noto,fluent}/{hex}.png     the images; /img/broken/* truncated PNG, HTML as image/png
type Site struct {
	concepts []Concept
	byHex    map[string]*Concept
	groups   []string
	tmpl     *template.Template
	broken   []byte // a real PNG cut in half

	mu   sync.Mutex
	hits map[string]int
}

// NewSite serves the first n concepts (n <= 0: all of them).
func NewSite(n int) (*Site, error) {
	cs, err := Concepts()
	if err != nil {
		return nil, err
	}
	if n > 0 && n < len(cs) {
		// Every k-th concept, so that a small site still spans the groups.
		sub := make([]Concept, 0, n)
		for i := range n {
			sub = append(sub, cs[i*len(cs)/n])
		}
		cs = sub
	}
	s := &Site{concepts: cs, byHex: map[string]*Concept{}, hits: map[string]int{}}
	for i := range cs {
		c := &cs[i]
		s.byHex[c.Hex] = c
		if !slices.Contains(s.groups, c.Group) {
			s.groups = append(s.groups, c.Group)
		}
	}
	slices.Sort(s.groups)
	png, err := siteFS.ReadFile("site/img/" + TrainStyle + "/" + cs[0].Hex + ".png")
	if err != nil {
		return nil, fmt.Errorf("demo site: %w", err)
	}
	s.broken = png[:len(png)/2]
	s.tmpl, err = template.New("page").Funcs(template.FuncMap{"join": strings.Join}).Parse(pageTemplate)
	if err != nil {
		return nil, fmt.Errorf("demo site: %w", err)
	}
	return s, nil
}

// SiteConcepts returns the concepts the site serves.
func (s *Site) SiteConcepts() []Concept { return s.concepts }

// Hits returns how often a path was requested.
func (s *Site) Hits(p string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[p]
}

// HitsUnder returns the requests of paths starting with prefix.
func (s *Site) HitsUnder(prefix string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for p, h := range s.hits {
		if strings.HasPrefix(p, prefix) {
			n += h
		}
	}
	return n
}

// page is the data of one generated page.
type page struct {
	Lang, Title string
	OGImage     string
	OGAlt       string
	Intro       string
	Links       []link
	Figures     []figure
	Images      []img
	FooterLinks []link
	Description string
}

type link struct{ Href, Text string }

type figure struct {
	Src, SrcSet, DataSrc, Alt, Caption string
}

type img struct{ Src, Alt string }

const pageTemplate = `<!doctype html>
<html lang="{{.Lang}}">
<head>
<meta charset="utf-8">
<title>{{.Title}}</title>
{{if .Description}}<meta name="description" content="{{.Description}}">{{end}}
{{if .OGImage}}<meta property="og:image" content="{{.OGImage}}">
<meta property="og:image:alt" content="{{.OGAlt}}">{{end}}
</head>
<body>
<header><a href="/">wit demo site</a> · <a href="/en/">English</a> · <a href="/fr/">Français</a> · <a href="/de/">Deutsch</a></header>
<h1>{{.Title}}</h1>
{{if .Intro}}<p>{{.Intro}}</p>{{end}}
{{range .Figures}}<figure>
  {{if .DataSrc}}<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" data-src="{{.DataSrc}}" alt="{{.Alt}}" loading="lazy">{{else}}<img src="{{.Src}}"{{if .SrcSet}} srcset="{{.SrcSet}}"{{end}} alt="{{.Alt}}" width="64" height="64">{{end}}
  <figcaption>{{.Caption}}</figcaption>
</figure>
{{end}}
{{if .Images}}<div class="gallery">{{range .Images}}<img src="{{.Src}}" alt="{{.Alt}}" width="32" height="32"> {{end}}</div>{{end}}
{{if .Links}}<ul>{{range .Links}}<li><a href="{{.Href}}">{{.Text}}</a></li>
{{end}}</ul>{{end}}
{{if .FooterLinks}}<footer>{{range .FooterLinks}}<a href="{{.Href}}">{{.Text}}</a> {{end}}</footer>{{end}}
</body>
</html>
`

// lang holds the words of one language of the site.
type lang struct {
	code, home, group, other string
	name                     func(*Concept) string
	keywords                 func(*Concept) []string
}

var langs = map[string]lang{
	"en": {"en", "Emoji of the world", "Emoji: %s", "%s, drawn in another style",
		func(c *Concept) string { return c.Name }, func(c *Concept) []string { return c.Keywords }},
	"fr": {"fr", "Les émojis du monde", "Émojis : %s", "%s, dessiné dans un autre style",
		func(c *Concept) string { return c.NameFR }, func(c *Concept) []string { return c.KeywordsFR }},
	"de": {"de", "Emojis der Welt", "Emojis: %s", "%s, in einem anderen Stil gezeichnet",
		func(c *Concept) string { return c.NameDE }, func(c *Concept) []string { return c.KeywordsDE }},
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	r := []rune(s)
	return strings.ToUpper(string(r[0])) + string(r[1:])
}

func imgURL(style, hex string) string { return "/img/" + style + "/" + hex + ".png" }

func (s *Site) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := path.Clean(r.URL.Path)
	s.mu.Lock()
	s.hits[p]++
	s.mu.Unlock()
	if p == "/robots.txt" {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, RobotsTxt)
		return
	}
	if strings.HasPrefix(p, "/img/") {
		s.serveImage(w, r, p)
		return
	}
	pg, ok := s.page(p)
	if !ok {
		http.NotFound(w, r)
		return
	}
	var buf bytes.Buffer
	if err := s.tmpl.Execute(&buf, pg); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(buf.Bytes())
}

func (s *Site) serveImage(w http.ResponseWriter, r *http.Request, p string) {
	switch p {
	case "/img/broken/truncated.png": // a real PNG cut in half
		w.Header().Set("Content-Type", "image/png")
		w.Write(s.broken)
		return
	case "/img/broken/page.png": // an HTML error page served as an image
		w.Header().Set("Content-Type", "image/png")
		io.WriteString(w, "<!doctype html><html><body><h1>Image temporarily unavailable</h1></body></html>")
		return
	}
	parts := strings.Split(strings.TrimPrefix(p, "/img/"), "/")
	if len(parts) != 2 || (parts[0] != TrainStyle && parts[0] != HeldOutStyle) {
		http.NotFound(w, r)
		return
	}
	if _, ok := s.byHex[strings.TrimSuffix(parts[1], ".png")]; !ok {
		http.NotFound(w, r)
		return
	}
	data, err := fs.ReadFile(siteFS, "site"+p)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", "max-age=86400")
	w.Write(data)
}

// page builds the page at p.
func (s *Site) page(p string) (*page, bool) {
	if p == "/" {
		return &page{Lang: "en", Title: "wit demo site",
			Intro: "A small website of emoji pictures with captions in three languages, served on this machine for wit demo.",
			Links: []link{{"/en/", "English"}, {"/fr/", "Français"}, {"/de/", "Deutsch"}, {"/members/", "Members' area"}}}, true
	}
	if strings.HasPrefix(p, "/members") {
		return s.membersPage(p)
	}
	segs := strings.Split(strings.Trim(p, "/"), "/")
	l, ok := langs[segs[0]]
	if !ok {
		return nil, false
	}
	switch {
	case len(segs) == 1:
		pg := &page{Lang: l.code, Title: l.home}
		for _, g := range s.groups {
			pg.Links = append(pg.Links, link{"/" + l.code + "/group/" + g + ".html", GroupNames[g]})
		}
		if l.code == "en" {
			pg.Links = append(pg.Links, link{"/en/misc.html", "Miscellaneous"})
		}
		return pg, true
	case len(segs) == 2 && segs[1] == "misc.html" && l.code == "en":
		return s.miscPage(), true
	case len(segs) == 3 && segs[1] == "group":
		g := strings.TrimSuffix(segs[2], ".html")
		if GroupNames[g] == "" {
			return nil, false
		}
		pg := &page{Lang: l.code, Title: fmt.Sprintf(l.group, GroupNames[g])}
		for i := range s.concepts {
			c := &s.concepts[i]
			if c.Group != g {
				continue
			}
			pg.Images = append(pg.Images, img{imgURL(TrainStyle, c.Hex), l.name(c)})
			pg.Links = append(pg.Links, link{"/" + l.code + "/emoji/" + c.Hex + ".html", capitalize(l.name(c))})
		}
		pg.FooterLinks = []link{{"/" + l.code + "/", l.home}}
		return pg, true
	case len(segs) == 3 && segs[1] == "emoji":
		c, ok := s.byHex[strings.TrimSuffix(segs[2], ".html")]
		if !ok {
			return nil, false
		}
		name := l.name(c)
		train, held := imgURL(TrainStyle, c.Hex), imgURL(HeldOutStyle, c.Hex)
		kw := l.keywords(c)
		caption := capitalize(name)
		if len(kw) > 0 {
			caption += ": " + strings.Join(kw, ", ")
		}
		return &page{Lang: l.code, Title: capitalize(name) + " " + c.Emoji, OGImage: train, OGAlt: name,
			Description: caption,
			Figures: []figure{
				{Src: train, SrcSet: train + " 64w", Alt: name, Caption: caption},
				{DataSrc: held, Alt: name, Caption: fmt.Sprintf(l.other, capitalize(name))},
			},
			FooterLinks: []link{{"/" + l.code + "/group/" + c.Group + ".html", GroupNames[c.Group]}}}, true
	}
	return nil, false
}

// miscPage holds captions the filter must drop and images the downloader must fail on.
func (s *Site) miscPage() *page {
	c := &s.concepts[0]
	return &page{Lang: "en", Title: "Miscellaneous",
		Intro: "Odds and ends: some pictures on this page are broken.",
		Figures: []figure{
			{Src: "/img/broken/truncated.png", Alt: "a red apple on a white plate", Caption: "A red apple on a white plate"},
			{Src: "/img/broken/page.png", Alt: "a yellow banana on the kitchen table", Caption: "A yellow banana on the kitchen table"},
			{Src: "/img/missing/cat.png", Alt: "a cat sleeping in the sun", Caption: "A cat sleeping in the sun"},
		},
		Images: []img{{imgURL(TrainStyle, c.Hex), "IMG_0042.JPG"}, {imgURL(TrainStyle, c.Hex), "logo"},
			{imgURL(TrainStyle, c.Hex), "https://example.com/picture.png"}},
		FooterLinks: []link{{"/en/", langs["en"].home}}}
}

// membersPage is the robots.txt-disallowed section: a crawler that ignores robots.txt would
// find pairs here that no polite crawl may have.
func (s *Site) membersPage(p string) (*page, bool) {
	if p == "/members" {
		pg := &page{Lang: "en", Title: "Members' area"}
		for i := range s.concepts[:min(10, len(s.concepts))] {
			pg.Links = append(pg.Links, link{fmt.Sprintf("/members/private-%d.html", i), "private page " + fmt.Sprint(i)})
		}
		return pg, true
	}
	var i int
	if _, err := fmt.Sscanf(path.Base(p), "private-%d.html", &i); err != nil || i < 0 || i >= min(10, len(s.concepts)) {
		return nil, false
	}
	c := &s.concepts[i]
	return &page{Lang: "en", Title: "Private page",
		Figures: []figure{{Src: imgURL(TrainStyle, c.Hex), Alt: "members only picture of " + c.Name, Caption: "A private picture of " + c.Name}}}, true
}
