package extract

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzExtract: whatever the bytes and header, Extract never panics, and every
// page it returns keeps the output invariants (absolute normalised http(s)
// URLs, clean valid UTF-8 captions and title, a normalised lang).
func FuzzExtract(f *testing.F) {
	seeds := []string{
		`<html lang="en"><base href="/b/"><meta property="og:image" content="o.jpg"><meta property="og:image:alt" content="og alt"><title> T </title>` +
			`<figure><picture><source srcset="a.jpg 1x, b.jpg 2x"><img src="c.jpg" alt="alt" title="ti"></picture><figcaption>cap <b>tion</b></figcaption></figure>` +
			`<img src="data:," data-srcset="l.jpg 10w, m.jpg 20w"><a href="x.html#f">x</a><a rel=nofollow href=y>y</a>`,
		`<meta name=robots content="noindex,nofollow"><img src=a alt=b>`,
		"<img src=\"\xff\xfe\" alt=\"\x00\x01\u00a0 x\">",
		`<svg><image href="x"/></svg><math><mi>x</mi></math><template><img src=t alt=t></template>`,
		`<img srcset=",,, a 1w,, b 2w (,), c" alt=x>`,
		`<a href="http://[::1]:80/">v6</a><a href="http://xn--bcher-kva.example/">idn</a><a href="http://%41.example/">esc</a>`,
		`<meta charset="shift_jis"><img src=a alt="` + "\x93\xfa\x96\x7b" + `">`,
	}
	for _, s := range seeds {
		f.Add([]byte(s), "text/html")
	}
	f.Add([]byte("<div><div><div><figure><img src=a alt=b>"), "")
	f.Add([]byte("\x89PNG\r\n\x1a\n"), "image/png")
	if files, _ := filepath.Glob("testdata/*.html"); len(files) > 0 {
		for _, file := range files {
			if b, err := os.ReadFile(file); err == nil {
				f.Add(b, "")
			}
		}
	}
	u := mustURL(f, "http://fuzz.example/dir/page.html?x=1")
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		p, err := Extract(u, body, contentType)
		if err != nil {
			if p != nil {
				t.Fatal("page with error")
			}
			return
		}
		checkPage(t, p)
		// The tokenizer fallback must be just as safe.
		x := getExtractor(u)
		x.tokenize(toUTF8(body, contentType))
		checkPage(t, x.finish())
		putExtractor(x)
	})
}
