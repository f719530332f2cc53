package extract

import (
	"bytes"
	"errors"
	"os"
	"reflect"
	"slices"
	"testing"

	"github.com/PuerkitoBio/goquery"
)

func TestRealPages(t *testing.T) {
	tests := []struct {
		file, pageURL string
		lang, title   string
		want          []Candidate
		someLinks     []string
		nLinks        int
	}{
		{
			file:    "gnucash-guide-en-basics-files1.html",
			pageURL: "http://localhost:8080/gnucash-guide-en/basics-files1.html",
			title:   "2.4. Storing your financial data",
			want: []Candidate{
				c("http://localhost:8080/gnucash-guide-en/figures/basics_SaveXML.png", "Save screen when xml or sqlite3 is selected.", "alt"),
				// The DocBook figure's title ("Figure 2.3. Save screen when …") repeats the alt
				// once its label is removed; its caption under the image is new text.
				c("http://localhost:8080/gnucash-guide-en/figures/basics_SaveXML.png", "This image shows the Save screen when the selected Data Format is xml or sqlite3.", "doc_figure"),
				c("http://localhost:8080/gnucash-guide-en/figures/basics_SaveSQL.png", "Save screen when mysql or postgres is selected.", "alt"),
				c("http://localhost:8080/gnucash-guide-en/figures/basics_SaveSQL.png", "This image shows the Save screen when the selected Data Format is mysql or postgres.", "doc_figure"),
			},
			someLinks: []string{"http://localhost:8080/gnucash-guide-en/basics-backup1.html", "http://localhost:8080/gnucash-guide-en/index.html"},
			nLinks:    4, // prev, next, up, home; the self link is dropped
		},
		{
			file:    "gnucash-guide-ja-basics-files1.html",
			pageURL: "http://localhost:8080/gnucash-guide-ja/basics-files1.html",
			title:   "2.5. 財務データの保存",
			want: []Candidate{
				c("http://localhost:8080/gnucash-guide-ja/figures/basics_SaveXML.png", "保存画面", "alt"),
				c("http://localhost:8080/gnucash-guide-ja/figures/basics_SaveXML.png", "XML または sqlite3 が選択されているときの保存画面。", "doc_figure"),
				c("http://localhost:8080/gnucash-guide-ja/figures/basics_SaveXML.png", "この画像がデータ形式に XML または sqlite3 を選択したときの保存画面です。", "doc_figure"),
				c("http://localhost:8080/gnucash-guide-ja/figures/basics_SaveSQL.png", "保存画面", "alt"),
				c("http://localhost:8080/gnucash-guide-ja/figures/basics_SaveSQL.png", "mysql または postgres が選択されているときの保存画面。", "doc_figure"),
				c("http://localhost:8080/gnucash-guide-ja/figures/basics_SaveSQL.png", "この画像が選択されたデータ形式が mysql または postgres であるときの保存画面です。", "doc_figure"),
			},
			nLinks: 4,
		},
		{
			file:    "sklearn-cluster-optics-dbscan.html",
			pageURL: "http://127.0.0.1/doc/modules/generated/sklearn.cluster.cluster_optics_dbscan.html",
			lang:    "en",
			title:   "sklearn.cluster.cluster_optics_dbscan — scikit-learn 1.2.1 documentation",
			want: []Candidate{
				// The page's own og:image (as Debian ships it) is an absolute URL.
				c("https://scikit-learn/stable/_images/sphx_glr_plot_optics_thumb.png", "Demo of OPTICS clustering algorithm", "og"),
				c("http://127.0.0.1/doc/_static/scikit-learn-logo-small.png", "logo", "alt"),
				// The <figcaption> repeats the alt once its "¶" permalink is dropped.
				c("http://127.0.0.1/doc/_images/sphx_glr_plot_optics_thumb.png", "Demo of OPTICS clustering algorithm", "alt"),
			},
			someLinks: []string{"http://127.0.0.1/doc/auto_examples/cluster/plot_optics.html", "http://127.0.0.1/doc/modules/generated/sklearn.cluster.DBSCAN.html", "https://blog.scikit-learn.org/"},
			nLinks:    24,
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			body, err := os.ReadFile("testdata/" + tt.file)
			if err != nil {
				t.Fatal(err)
			}
			u := mustURL(t, tt.pageURL)
			// Served without a Content-Type: sniffed as HTML, charset from <meta>.
			p, err := Extract(u, body, "")
			if err != nil {
				t.Fatal(err)
			}
			checkPage(t, p)
			if p.Lang != tt.lang || p.Title != tt.title {
				t.Errorf("lang, title = %q, %q; want %q, %q", p.Lang, p.Title, tt.lang, tt.title)
			}
			if !reflect.DeepEqual(p.Candidates, tt.want) {
				t.Errorf("candidates\n got %q\nwant %q", p.Candidates, tt.want)
			}
			if len(p.Links) != tt.nLinks {
				t.Errorf("%d links, want %d: %q", len(p.Links), tt.nLinks, p.Links)
			}
			for _, l := range tt.someLinks {
				if !slices.Contains(p.Links, l) {
					t.Errorf("link %q missing from %q", l, p.Links)
				}
			}

			// FromDocument on the same page parsed by goquery agrees.
			doc, err := goquery.NewDocumentFromReader(bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			q, err := FromDocument(u, doc)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(p, q) {
				t.Errorf("FromDocument differs:\n%+v\n%+v", q, p)
			}

			// The tokenizer path (used for over-deep documents) finds the same.
			x := getExtractor(u)
			x.tokenize(toUTF8(body, ""))
			tp := x.finish()
			putExtractor(x)
			if !reflect.DeepEqual(p, tp) {
				t.Errorf("tokenizer path differs:\n%+v\n%+v", tp, p)
			}
		})
	}
}

// Extract shares pooled scratch space between calls; concurrent use must
// give every caller its own, correct result.
func TestConcurrentExtract(t *testing.T) {
	body, err := os.ReadFile("testdata/sklearn-cluster-optics-dbscan.html")
	if err != nil {
		t.Fatal(err)
	}
	u := mustURL(t, "http://127.0.0.1/doc/modules/generated/x.html")
	want, err := Extract(u, body, "text/html")
	if err != nil {
		t.Fatal(err)
	}
	small := []byte(`<img src=a.png alt=small><a href=b.html>b</a>`)
	wantSmall, _ := Extract(u, small, "text/html")
	done := make(chan error, 8)
	for g := range 8 {
		go func() {
			for range 50 {
				b, w := body, want
				if g%2 == 1 {
					b, w = small, wantSmall
				}
				got, err := Extract(u, b, "text/html")
				if err == nil && !reflect.DeepEqual(got, w) {
					err = errors.New("result differs under concurrency")
				}
				if err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

func TestFromDocumentNil(t *testing.T) {
	if _, err := FromDocument(mustURL(t, testPage), nil); err == nil {
		t.Error("nil document: no error")
	}
}
