package extract

import (
	"os"
	"reflect"
	"testing"
)

// TestCaptionMarkup reads the caption markup of real generators (testdata/captions/README.md
// says where each fixture comes from), on the tree path and on the tokenizer path.
func TestCaptionMarkup(t *testing.T) {
	tests := []struct {
		file, page string
		want       []Candidate
	}{
		{"mediawiki-legacy.html", "https://wiki.example.org/index.php/Lighthouse", []Candidate{
			c("https://wiki.example.org/images/thumb/a/a9/Lighthouse_at_dusk.jpg/440px-Lighthouse_at_dusk.jpg", "The lighthouse at dusk, seen from the north pier", SourceMediaWiki),
			c("https://wiki.example.org/images/thumb/1/1b/Lens.jpg/120px-Lens.jpg", "Fresnel lens", SourceAlt),
			c("https://wiki.example.org/images/thumb/1/1b/Lens.jpg/120px-Lens.jpg", "A first-order Fresnel lens", SourceMediaWiki),
		}},
		{"mediawiki-figure.html", "https://wiki.example.org/index.php/Lighthouse", []Candidate{
			c("https://wiki.example.org/images/thumb/a/a9/Lighthouse_at_dusk.jpg/440px-Lighthouse_at_dusk.jpg", "The lighthouse at dusk, seen from the north pier", SourceMediaWiki),
			c("https://wiki.example.org/images/a/a1/Keeper.jpg", "Cottage", SourceAlt),
			c("https://wiki.example.org/images/a/a1/Keeper.jpg", "The keeper's cottage", SourceMediaWiki),
		}},
		{"wordpress.html", "https://blog.example.org/2022/05/harbour/", []Candidate{
			c("https://blog.example.org/wp-content/uploads/2022/05/boats-1024x683.jpg", "Fishing boats in the harbour at dawn", SourceWordPress),
			c("https://blog.example.org/wp-content/uploads/2022/05/nets-300x200.jpg", "Nets", SourceAlt),
			c("https://blog.example.org/wp-content/uploads/2022/05/nets-300x200.jpg", "Nets drying on the quay", SourceWordPress),
			c("https://blog.example.org/wp-content/uploads/2022/05/gulls-150x150.jpg", "Gulls waiting for the catch", SourceWordPress),
		}},
		{"docutils-html4.html", "https://docs.example.org/harbour.html", []Candidate{
			c("https://docs.example.org/boats.jpg", "Fishing boats", SourceAlt),
			c("https://docs.example.org/boats.jpg", "Fishing boats moored in the harbour at dawn.", SourceDocFigure),
		}},
		{"sphinx-html4.html", "https://docs.example.org/harbour.html", []Candidate{
			c("https://docs.example.org/_images/boats.jpg", "Fishing boats", SourceAlt),
			c("https://docs.example.org/_images/boats.jpg", "Fishing boats moored in the harbour at dawn.", SourceDocFigure),
		}},
		{"aria.html", "https://museum.example.org/", []Candidate{
			c("https://museum.example.org/img/rain-chart.png", "Monthly rainfall in Bergen, highest in October", SourceARIADescribedBy),
			c("https://museum.example.org/img/logo.svg.png", "Harbour Museum logo", SourceARIALabel),
			c("https://museum.example.org/img/map.png", "Map of the old town", SourceAlt),
			c("https://museum.example.org/img/map.png", "Streets as they were in 1850", SourceARIADescribedBy),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			body, err := os.ReadFile("testdata/captions/" + tt.file)
			if err != nil {
				t.Fatal(err)
			}
			u := mustURL(t, tt.page)
			p, err := Extract(u, body, "text/html")
			if err != nil {
				t.Fatal(err)
			}
			checkPage(t, p)
			if !reflect.DeepEqual(p.Candidates, tt.want) {
				t.Errorf("candidates\n got %q\nwant %q", p.Candidates, tt.want)
			}
			// The tokenizer (for documents too deep to parse) reads the same markup, all but
			// aria-describedby, which needs the tree.
			x := getExtractor(u)
			x.tokenize(body)
			tp := x.finish()
			putExtractor(x)
			var want []Candidate
			for _, cd := range tt.want {
				if cd.Source != SourceARIADescribedBy {
					want = append(want, cd)
				}
			}
			var got []Candidate
			for _, cd := range tp.Candidates {
				if cd.Source != SourceARIADescribedBy {
					got = append(got, cd)
				}
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("tokenizer candidates\n got %q\nwant %q", got, want)
			}
		})
	}
}

func TestCaptionMarkupTable(t *testing.T) {
	img := "https://example.com/docs/guide/"
	tests := []struct {
		name, html string
		want       []Candidate
	}{
		{"docbook figure title and caption", `<div class="figure"><a name="f1"></a><p class="title"><b>Figure 2.1. The basic accounts</b></p>` +
			`<div class="figure-contents"><div class="mediaobject"><img src="a.png" alt="Accounts"><div class="caption"><p>How the five accounts relate.</p></div></div></div></div>`,
			[]Candidate{c(img+"a.png", "Accounts", "alt"), c(img+"a.png", "The basic accounts", SourceDocFigure), c(img+"a.png", "How the five accounts relate.", SourceDocFigure)}},
		{"docbook title equal to alt keeps alt", `<div class="figure"><p class="title"><b>Abbildung 3.2. Konten</b></p><img src="a.png" alt="Konten"></div>`,
			[]Candidate{c(img+"a.png", "Konten", "alt")}},
		{"japanese label", `<div class="figure"><p class="title"><b>図2.1 基本勘定科目の関係</b></p><img src="a.png"></div>`,
			[]Candidate{c(img+"a.png", "基本勘定科目の関係", SourceDocFigure)}},
		{"standalone mediaobject caption", `<div class="mediaobject"><img src="a.png"><div class="caption"><p>Under the image</p></div></div>`,
			[]Candidate{c(img+"a.png", "Under the image", SourceDocFigure)}},
		{"caption outside its container is not read", `<div class="wp-caption"><img src="a.png"></div><p class="wp-caption-text">stray</p>`, nil},
		{"figure typeof mw:File", `<figure typeof="mw:File/Thumb"><img src="a.png"><figcaption>Thumb caption</figcaption></figure>`,
			[]Candidate{c(img+"a.png", "Thumb caption", SourceMediaWiki)}},
		{"plain figure stays figcaption", `<figure class="wp-block-image"><img src="a.png"><figcaption class="wp-element-caption">Block caption</figcaption></figure>`,
			[]Candidate{c(img+"a.png", "Block caption", SourceFigcaption)}},
		{"wordpress html5 gallery", `<figure class="gallery-item"><div class="gallery-icon"><img src="a.png"></div><figcaption class="wp-caption-text gallery-caption">In the gallery</figcaption></figure>`,
			[]Candidate{c(img+"a.png", "In the gallery", SourceWordPress)}},
		{"aria-label after alt", `<img src="a.png" alt="Alt" aria-label="Label">`,
			[]Candidate{c(img+"a.png", "Alt", "alt"), c(img+"a.png", "Label", SourceARIALabel)}},
		{"aria-describedby skips script", `<img src="a.png" aria-describedby="d"><div id="d">Des<script>x()</script>cribed</div>`,
			[]Candidate{c(img+"a.png", "Described", SourceARIADescribedBy)}},
		{"route number kept", `<div class="figure"><p class="title">Route 66 sign</p><img src="a.png"></div>`,
			[]Candidate{c(img+"a.png", "Route 66 sign", SourceDocFigure)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Extract(mustURL(t, "https://example.com/docs/guide/page.html"), []byte(tt.html), "text/html")
			if err != nil {
				t.Fatal(err)
			}
			checkPage(t, p)
			if !reflect.DeepEqual(p.Candidates, tt.want) {
				t.Errorf("candidates\n got %q\nwant %q", p.Candidates, tt.want)
			}
		})
	}
}

func TestStripFigureLabel(t *testing.T) {
	for in, want := range map[string]string{
		"Figure 2.1. The basic accounts": "The basic accounts",
		"Abbildung 2.1. Die Beziehungen": "Die Beziehungen",
		"図2.1 基本勘定科目の関係":                 "基本勘定科目の関係",
		"Fig. 3: Boats":                  "Boats",
		"Figure 12. Nets":                "Nets",
		"Route 66 sign":                  "Route 66 sign",
		"2.1 million visitors":           "2.1 million visitors",
		"Figure 2.1.":                    "Figure 2.1.",
		"Boats at dawn":                  "Boats at dawn",
	} {
		if got := stripFigureLabel(in); got != want {
			t.Errorf("stripFigureLabel(%q) = %q, want %q", in, got, want)
		}
	}
}
