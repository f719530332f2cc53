package extract

import (
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/witdata/wit/internal/urlnorm"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
)

const testPage = "https://example.com/docs/guide/page.html"

func mustURL(t testing.TB, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func extractString(t testing.TB, body, contentType string) *Page {
	t.Helper()
	p, err := Extract(mustURL(t, testPage), []byte(body), contentType)
	if err != nil {
		t.Fatalf("Extract: %v", err)
	}
	return p
}

func c(u, caption, source string) Candidate { return Candidate{u, caption, source} }

func TestCandidates(t *testing.T) {
	const img = "https://example.com/docs/guide/"
	tests := []struct {
		name string
		body string
		want []Candidate
	}{
		{"alt", `<img src="a.png" alt="A cat">`,
			[]Candidate{c(img+"a.png", "A cat", "alt")}},
		{"title", `<img src="a.png" title="A dog">`,
			[]Candidate{c(img+"a.png", "A dog", "title")}},
		{"data-image-title", `<img src="a.png" data-image-title="A fox">`,
			[]Candidate{c(img+"a.png", "A fox", "title")}},
		{"alt and title differ", `<img src="a.png" alt="A cat" title="Tabby">`,
			[]Candidate{c(img+"a.png", "A cat", "alt"), c(img+"a.png", "Tabby", "title")}},
		{"alt equals title keeps alt", `<img src="a.png" alt="A cat" title="  A   cat ">`,
			[]Candidate{c(img+"a.png", "A cat", "alt")}},
		{"empty captions give nothing", `<img src="a.png" alt="" title="  &nbsp; ">`, nil},
		{"no src gives nothing", `<img alt="orphan">`, nil},
		{"absolute-path and parent refs", `<img src="/i/a.png" alt="x"><img src="../b.png" alt="y">`,
			[]Candidate{c("https://example.com/i/a.png", "x", "alt"), c("https://example.com/docs/b.png", "y", "alt")}},
		{"protocol-relative", `<img src="//cdn.example.net/a.png" alt="x">`,
			[]Candidate{c("https://cdn.example.net/a.png", "x", "alt")}},
		{"duplicate image and caption once", `<img src="a.png" alt="x"><img src="./a.png#f" alt="x">`,
			[]Candidate{c(img+"a.png", "x", "alt")}},
		{"srcset largest by width", `<img src="s.jpg" srcset="m.jpg 800w, l.jpg 1600w, s.jpg 400w" alt="x">`,
			[]Candidate{c(img+"l.jpg", "x", "alt")}},
		{"srcset largest by density", `<img src="s.jpg" srcset="m.jpg 1.5x, l.jpg 2x" alt="x">`,
			[]Candidate{c(img+"l.jpg", "x", "alt")}},
		{"srcset with commas in URL", `<img srcset="https://img.example.net/w_100,h_50/a.jpg 100w, https://img.example.net/w_900,h_450/a.jpg 900w" alt="x">`,
			[]Candidate{c("https://img.example.net/w_900,h_450/a.jpg", "x", "alt")}},
		{"srcset without descriptors and src", `<img srcset="a.jpg" src="b.jpg" alt="x">`,
			[]Candidate{c(img+"a.jpg", "x", "alt")}},
		{"lazy data-src over data URI", `<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" data-src="real.jpg" alt="x">`,
			[]Candidate{c(img+"real.jpg", "x", "alt")}},
		{"lazy data-src over spacer gif", `<img src="/img/blank.gif" data-lazy-src="real.jpg" alt="x">`,
			[]Candidate{c(img+"real.jpg", "x", "alt")}},
		{"lazy data-original", `<img data-original="real.jpg" alt="x">`,
			[]Candidate{c(img+"real.jpg", "x", "alt")}},
		{"lazy data-srcset", `<img src="data:," data-srcset="a.jpg 300w, b.jpg 900w" data-src="a.jpg" alt="x">`,
			[]Candidate{c(img+"b.jpg", "x", "alt")}},
		{"real src wins over data-src", `<img src="real.jpg" data-src="other.jpg" alt="x">`,
			[]Candidate{c(img+"real.jpg", "x", "alt")}},
		{"tracking pixel dropped", `<img src="https://t.example.net/p?id=1" width="1" height="1" alt="x">`, nil},
		{"picture source largest, caption from img",
			`<picture><source type="image/webp" srcset="a.webp 600w, b.webp 1200w"><source srcset="c.jpg 1000w"><img src="d.jpg" alt="Bridge"></picture>`,
			[]Candidate{c(img+"b.webp", "Bridge", "alt")}},
		{"picture skips avif source",
			`<picture><source type="image/avif" srcset="a.avif 2000w"><source srcset="c.jpg 1000w"><img src="d.jpg" alt="Bridge"></picture>`,
			[]Candidate{c(img+"c.jpg", "Bridge", "alt")}},
		{"picture with x sources",
			`<picture><source srcset="a.jpg, a2.jpg 2x"><img src="d.jpg" alt="Bridge"></picture>`,
			[]Candidate{c(img+"a2.jpg", "Bridge", "alt")}},
		{"figcaption", `<figure><img src="a.png" alt="alt text"><figcaption>The <b>caption</b>
			text</figcaption></figure>`,
			[]Candidate{c(img+"a.png", "alt text", "alt"), c(img+"a.png", "The caption text", "figcaption")}},
		{"figcaption before image", `<figure><figcaption><p>First</p><p>Second</p></figcaption><img src="a.png"></figure>`,
			[]Candidate{c(img+"a.png", "First Second", "figcaption")}},
		{"figcaption equal to alt keeps alt", `<figure><img src="a.png" alt="Same"><figcaption>Same</figcaption></figure>`,
			[]Candidate{c(img+"a.png", "Same", "alt")}},
		{"nested figures use nearest caption",
			`<figure><figure><img src="in.png"><figcaption>inner</figcaption></figure><img src="out.png"><figcaption>outer</figcaption></figure>`,
			[]Candidate{c(img+"in.png", "inner", "figcaption"), c(img+"out.png", "outer", "figcaption")}},
		{"figcaption skips script", `<figure><img src="a.png"><figcaption>Cap<script>var x="no";</script>tion</figcaption></figure>`,
			[]Candidate{c(img+"a.png", "Caption", "figcaption")}},
		{"image outside figure has no figcaption", `<figure><figcaption>cap</figcaption></figure><img src="a.png" alt="x">`,
			[]Candidate{c(img+"a.png", "x", "alt")}},
		{"og image with alt", `<head><meta property="og:image" content="https://example.com/og.jpg"><meta property="og:image:alt" content="Shared picture"></head>`,
			[]Candidate{c("https://example.com/og.jpg", "Shared picture", "og")}},
		{"og secure_url preferred", `<meta property="og:image" content="http://example.com/og.jpg"><meta property="og:image:secure_url" content="https://example.com/og.jpg"><meta property="og:image:alt" content="S">`,
			[]Candidate{c("https://example.com/og.jpg", "S", "og")}},
		{"og image url alias", `<meta property="og:image:url" content="/og.jpg"><meta property="og:image:alt" content="S">`,
			[]Candidate{c("https://example.com/og.jpg", "S", "og")}},
		{"two og images", `<meta property="og:image" content="/1.jpg"><meta property="og:image:alt" content="one"><meta property="og:image" content="/2.jpg"><meta property="og:image:alt" content="two">`,
			[]Candidate{c("https://example.com/1.jpg", "one", "og"), c("https://example.com/2.jpg", "two", "og")}},
		{"og without alt gives nothing", `<meta property="og:image" content="/1.jpg">`, nil},
		{"twitter image", `<meta name="twitter:image" content="/t.jpg"><meta name="twitter:image:alt" content="tweet pic">`,
			[]Candidate{c("https://example.com/t.jpg", "tweet pic", "og")}},
		{"og and twitter same pair once", `<meta property="og:image" content="/t.jpg"><meta property="og:image:alt" content="pic"><meta name="twitter:image" content="/t.jpg"><meta name="twitter:image:alt" content="pic">`,
			[]Candidate{c("https://example.com/t.jpg", "pic", "og")}},
		{"og first then body images", `<body><img src="a.png" alt="body"></body><meta property="og:image" content="/og.jpg"><meta property="og:image:alt" content="og">`,
			[]Candidate{c("https://example.com/og.jpg", "og", "og"), c(img+"a.png", "body", "alt")}},
		{"base href", `<head><base href="https://static.example.org/assets/"></head><img src="a.png" alt="x">`,
			[]Candidate{c("https://static.example.org/assets/a.png", "x", "alt")}},
		{"relative base href", `<base href="/other/"><img src="a.png" alt="x">`,
			[]Candidate{c("https://example.com/other/a.png", "x", "alt")}},
		{"base after image still applies", `<img src="a.png" alt="x"><base href="https://b.example.org/">`,
			[]Candidate{c("https://b.example.org/a.png", "x", "alt")}},
		{"javascript base ignored", `<base href="javascript:alert(1)"><img src="a.png" alt="x">`,
			[]Candidate{c(img+"a.png", "x", "alt")}},
		{"data and non-http dropped", `<img src="data:image/png;base64,AAAA" alt="d"><img src="ftp://example.com/a.png" alt="f"><img src="file:///etc/passwd" alt="p"><img src="javascript:void(0)" alt="j">`, nil},
		{"normalised URL", `<img src="HTTPS://CDN.Example.NET:443/a/./b/../%7euser/%e2%82%ac.png?q=%2f#frag" alt="x">`,
			[]Candidate{c("https://cdn.example.net/a/~user/%E2%82%AC.png?q=%2F", "x", "alt")}},
		{"entities decoded", `<img src="a.png" alt="Caf&eacute; &amp; cr&egrave;me &#x27;quoted&#39; &lt;b&gt;">`,
			[]Candidate{c(img+"a.png", "Café & crème 'quoted' <b>", "alt")}},
		{"whitespace collapsed", "<img src=a.png alt=\"  one\u00a0\u00a0two\n\tthree\u2003four  \">",
			[]Candidate{c(img+"a.png", "one two three four", "alt")}},
		{"control characters removed", "<img src=a.png alt=\"be\u0007ll\u200b zero\u00adsoft\ufeff\">",
			[]Candidate{c(img+"a.png", "bell zerosoft", "alt")}},
		{"noscript image", `<img data-src="photo.jpg" class="lazyload" alt="x"><noscript><img src="photo.jpg" alt="x"></noscript>`,
			[]Candidate{c(img+"photo.jpg", "x", "alt")}},
		{"only noscript has the image", `<img src="/spacer.gif" class="lazyload" alt="x"><noscript><img src="photo.jpg" alt="x"></noscript>`,
			[]Candidate{c(img+"photo.jpg", "x", "alt")}},
		{"backslashes as slashes", `<img src="..\img\a.png" alt="x">`,
			[]Candidate{c("https://example.com/docs/img/a.png", "x", "alt")}},
		{"svg image ignored", `<svg><image href="a.png"></image><title>svg title</title></svg><img src="b.png" alt="y">`,
			[]Candidate{c(img+"b.png", "y", "alt")}},
		{"template ignored", `<template><img src="t.png" alt="tmpl"></template>`, nil},
		{"robots noindex", `<meta name="robots" content="noindex"><img src="a.png" alt="x">`, nil},
		{"robots none", `<meta name="ROBOTS" content="NONE"><img src="a.png" alt="x">`, nil},
		{"robots noimageindex", `<meta name="robots" content="noimageindex"><img src="a.png" alt="x">`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := extractString(t, tt.body, "text/html; charset=utf-8")
			if !reflect.DeepEqual(p.Candidates, tt.want) {
				t.Errorf("candidates\n got %q\nwant %q", p.Candidates, tt.want)
			}
		})
	}
}

func TestLinks(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		want     []string
		noFollow bool
		noIndex  bool
	}{
		{"relative and absolute",
			`<a href="next.html">n</a><a href="/top">t</a><a href="https://Other.example.ORG:443/x?b=1#frag">o</a><area href="map.html">`,
			[]string{"https://example.com/docs/guide/next.html", "https://example.com/top", "https://other.example.org/x?b=1", "https://example.com/docs/guide/map.html"}, false, false},
		{"dedup and fragments", `<a href="a.html#one">1</a><a href="a.html#two">2</a><a href="./a.html">3</a>`,
			[]string{"https://example.com/docs/guide/a.html"}, false, false},
		{"self and fragment-only dropped", `<a href="#top">t</a><a href="page.html#x">s</a><a href="">e</a>`, nil, false, false},
		{"non-http dropped", `<a href="mailto:a@example.com">m</a><a href="javascript:go()">j</a><a href="ftp://example.com/f">f</a><a href="tel:123">t</a>`, nil, false, false},
		{"rel nofollow", `<a rel="external NoFollow" href="x.html">x</a><a rel="next" href="y.html">y</a>`,
			[]string{"https://example.com/docs/guide/y.html"}, false, false},
		{"meta nofollow", `<meta name="robots" content="index, nofollow"><a href="x.html">x</a>`, nil, true, false},
		{"meta noindex keeps links", `<meta name="robots" content="noindex"><a href="x.html">x</a>`,
			[]string{"https://example.com/docs/guide/x.html"}, false, true},
		{"base applies to links", `<base href="http://b.example.org:80/d/"><a href="x.html">x</a>`,
			[]string{"http://b.example.org/d/x.html"}, false, false},
		{"whitespace in href", "<a href=\"  next\n.html \">n</a>",
			[]string{"https://example.com/docs/guide/next.html"}, false, false},
		{"escapes normalised", `<a href="/a%2fb/%41%7e c">x</a>`,
			[]string{"https://example.com/a%2Fb/A~%20c"}, false, false},
		{"idn host", `<a href="http://bücher.example/">x</a>`,
			[]string{"http://xn--bcher-kva.example/"}, false, false},
		{"userinfo dropped", `<a href="http://user:pw@example.com/">x</a>`, nil, false, false},
		{"bad port dropped", `<a href="http://example.com:99999/">x</a><a href="http://example.com:8080">y</a>`,
			[]string{"http://example.com:8080/"}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := extractString(t, tt.body, "text/html")
			if !reflect.DeepEqual(p.Links, tt.want) {
				t.Errorf("links\n got %q\nwant %q", p.Links, tt.want)
			}
			if p.NoFollow != tt.noFollow || p.NoIndex != tt.noIndex {
				t.Errorf("NoFollow, NoIndex = %v, %v; want %v, %v", p.NoFollow, p.NoIndex, tt.noFollow, tt.noIndex)
			}
		})
	}
}

func TestLangAndTitle(t *testing.T) {
	tests := []struct {
		body, lang, title string
	}{
		{`<html lang="en"><title>Hello</title>`, "en", "Hello"},
		{`<html lang="de-CH"><head><title>  Grüezi &amp;
		 willkommen </title></head>`, "de-ch", "Grüezi & willkommen"},
		{`<html lang="pt_BR">`, "pt-br", ""},
		{`<html xml:lang="FR" lang="fr-ca">`, "fr-ca", ""},
		{`<html><meta http-equiv="Content-Language" content="it, en">`, "it", ""},
		{`<html lang="en;drop table">`, "", ""},
		{`<html><svg><title>not me</title></svg><title>me</title>`, "", "me"},
		{`<title>first</title><title>second</title>`, "", "first"},
	}
	for _, tt := range tests {
		p := extractString(t, tt.body, "")
		if p.Lang != tt.lang || p.Title != tt.title {
			t.Errorf("%q: lang, title = %q, %q; want %q, %q", tt.body, p.Lang, p.Title, tt.lang, tt.title)
		}
	}
}

func TestCharsets(t *testing.T) {
	latin1 := func(s string) []byte {
		b, err := charmap.ISO8859_1.NewEncoder().Bytes([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	win1252 := func(s string) []byte {
		b, err := charmap.Windows1252.NewEncoder().Bytes([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	sjis := func(s string) []byte {
		b, err := japanese.ShiftJIS.NewEncoder().Bytes([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name        string
		body        []byte
		contentType string
		want        string
	}{
		{"iso-8859-1 by header", latin1(`<img src=a.png alt="Café crème, señor">`), "text/html; charset=ISO-8859-1", "Café crème, señor"},
		{"iso-8859-1 by meta", latin1(`<meta charset="iso-8859-1"><img src=a.png alt="Größe">`), "text/html", "Größe"},
		{"windows-1252 by http-equiv", win1252(`<meta http-equiv="Content-Type" content="text/html; charset=windows-1252"><img src=a.png alt="“Smart” quotes – €5">`), "text/html", "“Smart” quotes – €5"},
		{"windows-1252 undeclared default", win1252(`<img src=a.png alt="naïve “text”">`), "text/html", "naïve “text”"},
		{"shift-jis by meta", sjis(`<meta charset="Shift_JIS"><img src=a.png alt="日本語の説明">`), "text/html", "日本語の説明"},
		{"shift-jis by header", sjis(`<img src=a.png alt="富士山の写真">`), "text/html; charset=shift_jis", "富士山の写真"},
		{"utf-8 bom", append([]byte("\xEF\xBB\xBF"), `<img src=a.png alt="Zürich">`...), "text/html; charset=windows-1252", "Zürich"},
		{"utf-8 mislabelled as latin-1", []byte(`<img src=a.png alt="Zürich">`), "text/html; charset=iso-8859-1", "Zürich"},
		{"xml declaration", latin1(`<?xml version="1.0" encoding="ISO-8859-1"?><html xmlns="http://www.w3.org/1999/xhtml"><img src="a.png" alt="Ärger"/></html>`), "application/xhtml+xml", "Ärger"},
		{"invalid utf-8 never leaks", []byte("<meta charset=utf-8><img src=a.png alt=\"ok\xff\xfe bytes\xc3\">"), "text/html", "ok bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Extract(mustURL(t, testPage), tt.body, tt.contentType)
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Candidates) != 1 || p.Candidates[0].Caption != tt.want {
				t.Fatalf("candidates %q, want caption %q", p.Candidates, tt.want)
			}
		})
	}
}

func TestUTF16(t *testing.T) {
	s := `<html lang="en"><img src="a.png" alt="wide ünïcode">`
	b := []byte{0xFF, 0xFE}
	for _, r := range s {
		b = append(b, byte(r), byte(r>>8))
	}
	p, err := Extract(mustURL(t, testPage), b, "text/html")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Candidates) != 1 || p.Candidates[0].Caption != "wide ünïcode" || p.Lang != "en" {
		t.Fatalf("got %+v", p)
	}
}

func TestCaptionCap(t *testing.T) {
	long := strings.Repeat("é", MaxCaptionRunes+500)
	p := extractString(t, `<img src=a.png alt="`+long+`">`, "text/html")
	if len(p.Candidates) != 1 {
		t.Fatalf("candidates %d", len(p.Candidates))
	}
	got := p.Candidates[0].Caption
	if n := utf8.RuneCountInString(got); n != MaxCaptionRunes || !utf8.ValidString(got) {
		t.Fatalf("caption has %d runes (valid %v), want %d", n, utf8.ValidString(got), MaxCaptionRunes)
	}
	// Cut text never ends in a space.
	words := strings.Repeat("ab ", MaxCaptionRunes)
	p = extractString(t, `<img src=a.png alt="`+words+`">`, "text/html")
	if got := p.Candidates[0].Caption; strings.HasSuffix(got, " ") || utf8.RuneCountInString(got) > MaxCaptionRunes {
		t.Fatalf("bad cut %q…", got[len(got)-10:])
	}
}

func TestMalformed(t *testing.T) {
	tests := []struct {
		name string
		body string
		want []Candidate
	}{
		{"unclosed everything", `<html><body><div><p><img src="a.png" alt="x"<figure><img src=b.png alt=y`,
			nil},
		{"unquoted and broken attrs", `<img src=a.png alt=hello world title='t'"">`,
			[]Candidate{c("https://example.com/docs/guide/a.png", "hello", "alt"), c("https://example.com/docs/guide/a.png", "t", "title")}},
		{"stray end tags", `</figure></picture></figcaption></title><img src=a.png alt=x></div></html></body>`,
			[]Candidate{c("https://example.com/docs/guide/a.png", "x", "alt")}},
		{"figcaption without figure", `<figcaption>lost</figcaption><img src=a.png>`, nil},
		{"table soup", `<table><img src=a.png alt=x><tr><td><figure><img src=b.png><figcaption>cap`,
			[]Candidate{c("https://example.com/docs/guide/a.png", "x", "alt"), c("https://example.com/docs/guide/b.png", "cap", "figcaption")}},
		{"nul bytes", "<img src=\"a\x00.png\" alt=\"n\x00ul\">",
			[]Candidate{c("https://example.com/docs/guide/a%EF%BF%BD.png", "nul", "alt")}},
		{"bad escapes in URL", `<img src="a%zz%4.png" alt=x>`,
			[]Candidate{c("https://example.com/docs/guide/a%25zz%254.png", "x", "alt")}},
		{"empty", ``, nil},
		{"binary junk", "\x00\x01\x02<img\x00 src=a.png alt=x>\xff\xfe", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := extractString(t, tt.body, "text/html")
			if tt.want != nil && !reflect.DeepEqual(p.Candidates, tt.want) {
				t.Errorf("candidates\n got %q\nwant %q", p.Candidates, tt.want)
			}
			checkPage(t, p)
		})
	}
}

// checkPage asserts the invariants every page must keep.
func checkPage(t testing.TB, p *Page) {
	t.Helper()
	for _, cd := range p.Candidates {
		checkURL(t, cd.ImageURL)
		if cd.Caption == "" || !utf8.ValidString(cd.Caption) || cd.Caption != cleanText(cd.Caption, MaxCaptionRunes) {
			t.Errorf("caption not clean: %q", cd.Caption)
		}
		if !slices.Contains(Sources, cd.Source) {
			t.Errorf("bad source %q", cd.Source)
		}
	}
	for _, l := range p.Links {
		checkURL(t, l)
		if strings.Contains(l, "#") {
			t.Errorf("link with fragment %q", l)
		}
	}
	if !utf8.ValidString(p.Title) || p.Title != cleanText(p.Title, MaxCaptionRunes) {
		t.Errorf("title not clean: %q", p.Title)
	}
	if p.Lang != normalizeLang(p.Lang) {
		t.Errorf("lang not normalised: %q", p.Lang)
	}
}

func checkURL(t testing.TB, s string) {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Fragment != "" {
		t.Errorf("bad output URL %q (%v)", s, err)
		return
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			t.Errorf("output URL %q has raw byte %#x", s, s[i])
			return
		}
	}
	if again := normalizeURL(u); again != s {
		t.Errorf("output URL %q not stable under normalisation: %q", s, again)
	}
	if canon, err := urlnorm.String(s); err != nil || canon != s {
		t.Errorf("output URL %q is not urlnorm's canonical form %q (%v)", s, canon, err)
	}
}

func TestNotHTML(t *testing.T) {
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
	tests := []struct {
		contentType string
		body        []byte
		isHTML      bool
	}{
		{"text/html", []byte("anything"), true},
		{"text/html; charset=utf-8", nil, true},
		{"application/xhtml+xml", []byte("<html/>"), true},
		{"TEXT/HTML", []byte("x"), true},
		{"", []byte("  <!DOCTYPE html><html><body>hi"), true},
		{"", []byte("\xEF\xBB\xBF<html><body>hi"), true},
		{"application/octet-stream", []byte("<html><head><title>x</title>"), true},
		{"", []byte(`<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml">`), true},
		{"", []byte(`<?xml version="1.0"?><rss version="2.0">`), false},
		{"", png, false},
		{"application/octet-stream", png, false},
		{"image/png", png, false},
		{"image/png", []byte("<html>lying server</html>"), false},
		{"text/plain", []byte("<html>plain</html>"), false},
		{"application/json", []byte(`{"html": "<p>"}`), false},
		{"application/pdf", []byte("%PDF-1.4"), false},
		{";;;bad", []byte("<html><body>"), true},
		{"", nil, false},
	}
	for _, tt := range tests {
		if got := IsHTML(tt.contentType, tt.body); got != tt.isHTML {
			t.Errorf("IsHTML(%q, %.20q) = %v, want %v", tt.contentType, tt.body, got, tt.isHTML)
		}
		p, err := Extract(mustURL(t, testPage), tt.body, tt.contentType)
		if tt.isHTML {
			if err != nil || p == nil {
				t.Errorf("Extract(%q): %v", tt.contentType, err)
			}
		} else if !errors.Is(err, ErrNotHTML) || p != nil || !strings.Contains(err.Error(), testPage) {
			t.Errorf("Extract(%q) = %v, %v; want ErrNotHTML with the URL", tt.contentType, p, err)
		}
	}
}

func TestBadPageURL(t *testing.T) {
	for _, s := range []string{"", "/relative", "ftp://example.com/", "mailto:x@example.com"} {
		if _, err := Extract(mustURL(t, s), []byte("<html>"), "text/html"); err == nil {
			t.Errorf("Extract with page URL %q: no error", s)
		}
	}
	if _, err := Extract(nil, []byte("<html>"), "text/html"); err == nil {
		t.Error("Extract with nil page URL: no error")
	}
}

func TestHugePages(t *testing.T) {
	if testing.Short() {
		t.Skip("huge pages in -short mode")
	}
	t.Run("20 MB of nested divs", func(t *testing.T) {
		var b strings.Builder
		b.WriteString(`<html lang="en"><body><figure><img src="deep.png" alt="deep">`)
		for b.Len() < 20<<20 {
			b.WriteString(`<div class="x">`)
		}
		b.WriteString(`<img src="bottom.png" alt="bottom"><a href="/deep-link">l</a><figcaption>cap</figcaption></figure>`)
		start := time.Now()
		p := extractString(t, b.String(), "text/html")
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("took %v", d)
		}
		want := []Candidate{
			c("https://example.com/docs/guide/deep.png", "deep", "alt"),
			c("https://example.com/docs/guide/deep.png", "cap", "figcaption"),
			c("https://example.com/docs/guide/bottom.png", "bottom", "alt"),
			c("https://example.com/docs/guide/bottom.png", "cap", "figcaption"),
		}
		if !reflect.DeepEqual(p.Candidates, want) || p.Lang != "en" || len(p.Links) != 1 {
			t.Errorf("got %q lang %q links %q", p.Candidates, p.Lang, p.Links)
		}
	})
	t.Run("100k images", func(t *testing.T) {
		var b strings.Builder
		b.WriteString("<html><body>")
		for i := range 100_000 {
			b.WriteString(`<img src="/img/`)
			b.WriteString(strings.Repeat("x", i%7))
			b.WriteString(itoa(i))
			b.WriteString(`.jpg" alt="picture `)
			b.WriteString(itoa(i))
			b.WriteString(`"><a href="p`)
			b.WriteString(itoa(i))
			b.WriteString(`.html">p</a>`)
		}
		start := time.Now()
		p := extractString(t, b.String(), "text/html")
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("took %v", d)
		}
		if len(p.Candidates) != MaxCandidates || len(p.Links) != MaxLinks {
			t.Errorf("got %d candidates, %d links; want the caps %d, %d", len(p.Candidates), len(p.Links), MaxCandidates, MaxLinks)
		}
		if p.Candidates[0].ImageURL != "https://example.com/img/0.jpg" || p.Candidates[0].Caption != "picture 0" {
			t.Errorf("first candidate %+v", p.Candidates[0])
		}
	})
}

func itoa(i int) string { return strconv.Itoa(i) }

// TestCandidatesMatchesExtract: Candidates is Extract less the links, on real pages and on one
// deep enough for the tokenizer fallback.
func TestCandidatesMatchesExtract(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.html")
	deep := "<html lang=de><body>" + strings.Repeat("<div>", 600) + `<img src=/x.jpg alt="tief"><a href=/y>y</a>` + "</body></html>"
	bodies := map[string][]byte{"deep": []byte(deep)}
	for _, f := range files {
		bodies[f], _ = os.ReadFile(f)
	}
	u, _ := url.Parse("https://example.org/dir/page.html")
	for name, body := range bodies {
		full, err := Extract(u, body, "text/html")
		if err != nil {
			t.Fatal(err)
		}
		lean, err := Candidates(u, body, "text/html")
		if err != nil {
			t.Fatal(err)
		}
		if len(lean.Links) != 0 || len(full.Links) == 0 {
			t.Fatalf("%s: links %d / %d", name, len(lean.Links), len(full.Links))
		}
		full.Links = nil
		if !reflect.DeepEqual(full, lean) {
			t.Fatalf("%s: Candidates differs from Extract:\n%+v\n%+v", name, lean, full)
		}
	}
}
