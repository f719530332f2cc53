package view

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"slices"
	"strconv"
	"sync"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Chart is one chart of the stats page, drawn as SVG by gonum/plot.
type Chart struct {
	Name  string `json:"name"` // URL name: /chart/NAME.svg
	Title string `json:"title"`
	Note  string `json:"note,omitempty"` // what to read from it, in a sentence
	draw  func() (*plot.Plot, error)
}

var (
	barColor  = color.RGBA{R: 0x3b, G: 0x6e, B: 0xa8, A: 0xff}
	headColor = color.RGBA{R: 0xc0, G: 0x39, B: 0x2b, A: 0xff}
	poolColor = color.RGBA{R: 0x99, G: 0x99, B: 0x99, A: 0xff}
)

// charts lists the charts the data supports, in page order. threshold is MetaCLIP's t (0: unknown).
func charts(st *ScanStats, ss *StageStats, threshold int) []Chart {
	var out []Chart
	if len(st.CaptionChars) > 0 {
		out = append(out,
			Chart{Name: "caption-chars", Title: "Caption length (characters)", draw: func() (*plot.Plot, error) {
				return histogram(st.CaptionChars, 10, "characters", "captions")
			}},
			Chart{Name: "caption-words", Title: "Caption length (words)", draw: func() (*plot.Plot, error) {
				return histogram(st.CaptionWords, 1, "words", "captions")
			}})
	}
	if len(st.OriginalSides) > 0 {
		out = append(out, Chart{Name: "original-sizes", Title: "Original image size (longer side, pixels)", draw: func() (*plot.Plot, error) {
			var names []string
			var values []float64
			first := slices.IndexFunc(st.OriginalSides[1:], func(n int64) bool { return n > 0 }) + 1 // side 0: unknown
			for k, n := range st.OriginalSides {
				if k < max(1, first) {
					continue
				}
				lo, hi := 1<<(k-1), 1<<k-1
				names = append(names, fmt.Sprintf("%d–%d", lo, hi))
				values = append(values, float64(n))
			}
			return bars(names, values, false, "images")
		}})
	}
	if len(st.ImageSizes) > 0 {
		out = append(out, Chart{Name: "stored-sizes", Title: "Stored image sizes", Note: plural(st.DistinctImageSizes, "distinct size"),
			draw: func() (*plot.Plot, error) { return countBars(st.ImageSizes, 15, "images") }})
	}
	if len(st.Languages) > 0 {
		out = append(out, Chart{Name: "languages", Title: "Languages", draw: func() (*plot.Plot, error) { return countBars(st.Languages, 15, "rows") }})
	}
	if len(st.Sources) > 0 {
		out = append(out, Chart{Name: "caption-sources", Title: "Caption sources", draw: func() (*plot.Plot, error) { return countBars(st.Sources, 10, "rows") }})
	}
	if len(ss.FetchFailures) > 0 {
		var total int64
		for _, n := range ss.FetchFailures {
			total += n
		}
		out = append(out, Chart{Name: "fetch-failures", Title: "Fetch failures by reason",
			Note: fmt.Sprintf("%s failed, %s downloaded (%.1f%% failed)", thousands(total), thousands(ss.FetchOK), 100*float64(total)/float64(max(1, total+ss.FetchOK))),
			draw: func() (*plot.Plot, error) { return countBars(sortedCounts(ss.FetchFailures, 0), 15, "images") }})
	}
	if len(ss.CrawlFailures) > 0 {
		out = append(out, Chart{Name: "crawl-failures", Title: "Crawled pages that failed, by reason", Note: fmt.Sprintf("%s pages ok", thousands(ss.CrawlPagesOK)),
			draw: func() (*plot.Plot, error) { return countBars(sortedCounts(ss.CrawlFailures, 0), 15, "pages") }})
	}
	if len(ss.FilterDropped) > 0 {
		out = append(out, Chart{Name: "filter-drops", Title: "Pairs the filter dropped, by reason", Note: fmt.Sprintf("%s of %s pairs kept", thousands(ss.FilterKept), thousands(ss.FilterRows)),
			draw: func() (*plot.Plot, error) { return countBars(sortedCounts(ss.FilterDropped, 0), 15, "pairs") }})
	}
	if q := st.Queries; q.Distinct > 0 {
		out = append(out, Chart{Name: "query-balance", Title: "Matches per query entry, against the balancing threshold",
			Note: balanceNote(q, threshold), draw: func() (*plot.Plot, error) { return rankFrequency(q, ss.Balance, threshold) }})
	}
	return out
}

// balanceNote says how the entries split into MetaCLIP's head (more than t matches: subsampled to
// about t) and tail (kept whole).
func balanceNote(q QueryStats, t int) string {
	if t <= 0 {
		return fmt.Sprintf("%s entries matched by %s rows; the balancing threshold t is unknown (no filter stats found; wit view --balance T sets it)", thousands(q.Distinct), thousands(q.RowsWithQuery))
	}
	var headEntries, headMatches int64
	for _, e := range q.ByMatches {
		if e.Matches > int64(t) {
			headEntries += e.Entries
			headMatches += e.Matches * e.Entries
		}
	}
	return fmt.Sprintf("t = %d: %s head entries (more than t matches) hold %.1f%% of the %s matches; %s tail entries hold the rest",
		t, thousands(headEntries), 100*float64(headMatches)/float64(max(1, q.Matches)), thousands(q.Matches), thousands(int64(q.Distinct)-headEntries))
}

// countTicks are plot.DefaultTicks on an axis of counts: whole numbers only, written without
// decimals.
type countTicks struct{}

func (countTicks) Ticks(lo, hi float64) []plot.Tick {
	var out []plot.Tick
	for _, t := range (plot.DefaultTicks{}).Ticks(lo, hi) {
		if t.Value != math.Trunc(t.Value) {
			if t.Label == "" {
				continue
			}
			t.Label = ""
		} else if t.Label != "" {
			t.Label = strconv.FormatFloat(t.Value, 'f', -1, 64)
		}
		out = append(out, t)
	}
	return out
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// chartCache renders each chart once (the stats do not change while the viewer runs).
type chartCache struct {
	mu   sync.Mutex
	svgs map[string][]byte
}

func (c *chartCache) svg(ch Chart) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if b, ok := c.svgs[ch.Name]; ok {
		return b, nil
	}
	p, err := ch.draw()
	if err != nil {
		return nil, fmt.Errorf("view: chart %s: %w", ch.Name, err)
	}
	w, err := p.WriterTo(6.5*vg.Inch, 3.6*vg.Inch, "svg")
	if err != nil {
		return nil, fmt.Errorf("view: chart %s: %w", ch.Name, err)
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("view: chart %s: %w", ch.Name, err)
	}
	if c.svgs == nil {
		c.svgs = map[string][]byte{}
	}
	c.svgs[ch.Name] = buf.Bytes()
	return buf.Bytes(), nil
}

// histogram draws counts[n] (how many rows have value n; the last counts larger ones too) in bins of
// width values, up to the 99.5th percentile so a few outliers do not squash the plot; larger values
// fall in the last bin.
func histogram(counts []int64, width int, xLabel, yLabel string) (*plot.Plot, error) {
	var total int64
	for _, n := range counts {
		total += n
	}
	limit := len(counts)
	var seen int64
	for v, n := range counts {
		seen += n
		if float64(seen) >= 0.995*float64(total) {
			limit = v + 1
			break
		}
	}
	nbins := max(1, (limit+width-1)/width)
	bins := make([]plotter.HistogramBin, nbins)
	for b := range bins {
		bins[b].Min, bins[b].Max = float64(b*width), float64((b+1)*width)
	}
	for v, n := range counts {
		bins[min(v/width, nbins-1)].Weight += float64(n)
	}
	top := 0.0
	for _, b := range bins {
		top = max(top, b.Weight)
	}
	p := plot.New()
	p.Y.Min, p.Y.Max = 0, top*1.08
	p.Y.Tick.Marker = countTicks{}
	h := &plotter.Histogram{Bins: bins, Width: float64(width), FillColor: barColor, LineStyle: draw.LineStyle{Color: color.White, Width: vg.Points(0.5)}}
	p.Add(h, plotter.NewGrid())
	p.X.Label.Text = xLabel
	if nbins > 1 && limit < len(counts) {
		p.X.Label.Text += fmt.Sprintf(" (the last bar counts %d and more)", (nbins-1)*width)
	}
	p.Y.Label.Text = yLabel
	return p, nil
}

// countBars draws the first top counts as horizontal bars, the largest on top.
func countBars(counts []Count, top int, label string) (*plot.Plot, error) {
	counts = counts[:min(top, len(counts))]
	names := make([]string, len(counts))
	values := make([]float64, len(counts))
	for i, c := range counts {
		names[len(counts)-1-i] = labelOf(c.Value)
		values[len(counts)-1-i] = float64(c.Count)
	}
	return bars(names, values, true, label)
}

func labelOf(v string) string {
	if v == "" {
		return "(none)"
	}
	return truncateRunes(v, 28)
}

func bars(names []string, values []float64, horizontal bool, label string) (*plot.Plot, error) {
	p := plot.New()
	if len(values) == 0 {
		return p, nil
	}
	// Bars fill about 70% of their slot of the axis (the canvas is 6.5 × 3.6 in, less the axes).
	span := 190.0
	if !horizontal {
		span = 400
	}
	b, err := plotter.NewBarChart(plotter.Values(values), vg.Points(max(3, min(28, 0.7*span/float64(len(values))))))
	if err != nil {
		return nil, err
	}
	b.Color, b.LineStyle.Width, b.Horizontal = barColor, 0, horizontal
	p.Add(b)
	if horizontal {
		p.NominalY(names...)
		p.X.Label.Text = label
		p.X.Min = 0
		p.X.Tick.Marker = countTicks{}
		p.Add(&plotter.Grid{Vertical: plotter.DefaultGridLineStyle})
	} else {
		p.NominalX(names...)
		p.Y.Label.Text = label
		p.Y.Min = 0
		p.Y.Tick.Marker = countTicks{}
		p.Add(&plotter.Grid{Horizontal: plotter.DefaultGridLineStyle})
	}
	return p, nil
}

// rankFrequency draws the entries' match counts in rank order on log–log axes (a step line from the
// compressed curve), the threshold t as a horizontal line (entries above it are the head MetaCLIP
// subsamples), and, when the filter's stats list them, the pool's top entries before balancing.
func rankFrequency(q QueryStats, pool *BalanceInfo, t int) (*plot.Plot, error) {
	p := plot.New()
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	p.X.Tick.Marker, p.Y.Tick.Marker = plot.LogTicks{Prec: -1}, plot.LogTicks{Prec: -1}
	p.X.Label.Text = "query entries, by rank (most matched first)"
	p.Y.Label.Text = "matching rows"
	var head, tail plotter.XYs
	rank := 1.0
	for _, e := range q.ByMatches {
		pts := &tail
		if t > 0 && e.Matches > int64(t) {
			pts = &head
		}
		y := float64(e.Matches)
		*pts = append(*pts, plotter.XY{X: rank, Y: y}, plotter.XY{X: rank + float64(e.Entries) - 1, Y: y})
		rank += float64(e.Entries)
	}
	maxY := 1.0
	if len(q.ByMatches) > 0 {
		maxY = float64(q.ByMatches[0].Matches)
	}
	add := func(xys plotter.XYs, c color.Color, legend string) error {
		if len(xys) == 0 {
			return nil
		}
		l, err := plotter.NewLine(xys)
		if err != nil {
			return err
		}
		l.Color, l.Width = c, vg.Points(2)
		p.Add(l)
		p.Legend.Add(legend, l)
		return nil
	}
	if err := add(head, headColor, "head: more than t matches (subsampled)"); err != nil {
		return nil, err
	}
	tailName := "entries in this dataset"
	if t > 0 {
		tailName = "tail: t matches or fewer (kept whole)"
	}
	if err := add(tail, barColor, tailName); err != nil {
		return nil, err
	}
	if pool != nil && len(pool.Top) > 0 {
		var xys plotter.XYs
		for i, c := range pool.Top {
			if c.Count > 0 {
				xys = append(xys, plotter.XY{X: float64(i + 1), Y: float64(c.Count)})
				maxY = math.Max(maxY, float64(c.Count))
			}
		}
		if len(xys) > 0 {
			s, err := plotter.NewScatter(xys)
			if err != nil {
				return nil, err
			}
			s.GlyphStyle.Color, s.GlyphStyle.Radius = poolColor, vg.Points(2.5)
			p.Add(s)
			p.Legend.Add("filter's pool before balancing (top entries)", s)
		}
	}
	if t > 0 {
		xmax := math.Max(rank-1, 2)
		l, err := plotter.NewLine(plotter.XYs{{X: 1, Y: float64(t)}, {X: xmax, Y: float64(t)}})
		if err != nil {
			return nil, err
		}
		l.Color, l.Width, l.Dashes = color.Black, vg.Points(1), []vg.Length{vg.Points(4), vg.Points(3)}
		p.Add(l)
		p.Legend.Add(fmt.Sprintf("t = %d", t), l)
		maxY = math.Max(maxY, float64(t))
	}
	p.Y.Min, p.Y.Max = 0.8, maxY*1.5
	p.X.Min = 0.8
	p.Legend.Top = true
	p.Add(plotter.NewGrid())
	return p, nil
}

// chartByName finds a chart.
func chartByName(cs []Chart, name string) (Chart, bool) {
	i := slices.IndexFunc(cs, func(c Chart) bool { return c.Name == name })
	if i < 0 {
		return Chart{}, false
	}
	return cs[i], true
}
