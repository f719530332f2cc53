package view

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"
)

// Filter selects rows for the grid. Zero fields select everything.
type Filter struct {
	Text      string `json:"text,omitempty"`     // caption substring, case-insensitive
	Query     string `json:"query,omitempty"`    // a matched query entry (case-insensitive, whole entry)
	Language  string `json:"language,omitempty"` // language code (the filter's, or the page's for raw pairs)
	Source    string `json:"source,omitempty"`   // caption source: alt, title, figcaption, og
	MinWidth  int    `json:"min_width,omitempty"`
	MinHeight int    `json:"min_height,omitempty"` // of the original image when recorded, else of the stored one
}

// Empty reports whether the filter selects every row.
func (f Filter) Empty() bool { return f == Filter{} }

// Budget bounds the rows one request may scan, so a filter that matches little cannot make a
// request read the whole dataset: the page then ends early and says where to continue.
type Budget struct {
	Rows int64         // rows examined at most (default 200,000)
	Time time.Duration // and for at most this long (default 1 s)
}

func (b Budget) withDefaults() Budget {
	if b.Rows <= 0 {
		b.Rows = 200_000
	}
	if b.Time <= 0 {
		b.Time = time.Second
	}
	return b
}

// Page is one page of the grid: the rows of [Start, Next) that pass the filter, at most the page
// size of them.
type Page struct {
	Filter  Filter   `json:"filter"`
	Samples []Sample `json:"samples"`
	Start   int64    `json:"start"` // first row examined
	Next    int64    `json:"next"`  // first row not examined: where the next page starts (== Total at the end)
	Total   int64    `json:"total"` // rows in the dataset
	// Partial: the scan budget ran out before the page was full; more matches may follow Next.
	Partial bool `json:"partial"`
}

// Page returns up to n rows passing f, examining rows from start on within budget b.
func (d *Dataset) Page(ctx context.Context, f Filter, start int64, n int, b Budget) (*Page, error) {
	b = b.withDefaults()
	p := &Page{Filter: f, Start: max(0, min(start, d.x.Rows)), Total: d.x.Rows, Samples: []Sample{}}
	m := newMatcher(f)
	deadline := time.Now().Add(b.Time)
	r := p.Start
	var examined int64
	for r < d.x.Rows && len(p.Samples) < n {
		if examined >= b.Rows || time.Now().After(deadline) {
			p.Partial = true
			break
		}
		rec, i, fe, err := d.batch(ctx, r)
		if err != nil {
			return nil, err
		}
		c := bindColumns(rec)
		for ; i < c.len() && len(p.Samples) < n && examined < b.Rows; i++ {
			if m.match(c, i) {
				p.Samples = append(p.Samples, d.sampleAt(c, i, r, fe))
			}
			r++
			examined++
			if examined%4096 == 0 && time.Now().After(deadline) {
				break
			}
		}
		rec.Release()
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	p.Next = r
	return p, nil
}

// matcher applies a Filter to rows.
type matcher struct {
	f          Filter
	needle     string // lower-cased Text
	asciiFold  bool   // needle is ASCII: compare bytes folding ASCII case, no allocation
	everything bool
}

func newMatcher(f Filter) *matcher {
	m := &matcher{f: f, needle: strings.ToLower(f.Text), everything: f.Empty()}
	m.asciiFold = isASCII(m.needle)
	return m
}

func (m *matcher) match(c *rowColumns, i int) bool {
	if m.everything {
		return true
	}
	f := m.f
	if f.Text != "" {
		capt := c.captionAt(i)
		if m.asciiFold {
			if !containsFoldASCII(capt, m.needle) {
				return false
			}
		} else if !strings.Contains(strings.ToLower(capt), m.needle) {
			return false
		}
	}
	if f.Language != "" && !strings.EqualFold(c.languageAt(i), f.Language) {
		return false
	}
	if f.Source != "" && !strings.EqualFold(str(c.source, i), f.Source) {
		return false
	}
	if f.MinWidth > 0 || f.MinHeight > 0 {
		w, h := i32(c.origWidth, i), i32(c.origHeight, i)
		if c.origWidth == nil || c.origHeight == nil {
			w, h = i32(c.width, i), i32(c.height, i)
		}
		if w < f.MinWidth || h < f.MinHeight {
			return false
		}
	}
	if f.Query != "" {
		found := false
		c.eachQuery(i, func(q string) bool {
			found = strings.EqualFold(q, f.Query)
			return !found
		})
		if !found {
			return false
		}
	}
	return true
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// containsFoldASCII reports whether s contains needle (ASCII, lower-case) ignoring ASCII case.
func containsFoldASCII(s, needle string) bool {
	n := len(needle)
	if n == 0 {
		return true
	}
	first := needle[0]
	for i := 0; i+n <= len(s); i++ {
		if lowerASCII(s[i]) != first {
			continue
		}
		j := 1
		for j < n && lowerASCII(s[i+j]) == needle[j] {
			j++
		}
		if j == n {
			return true
		}
	}
	return false
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
