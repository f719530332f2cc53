package view

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/witdata/wit/shards"
)

func openTest(t testing.TB, dir string) *Dataset {
	t.Helper()
	d, err := Open(context.Background(), dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestOpenIndexesOnceAndCaches(t *testing.T) {
	dir, rows := writeTestDataset(t, 7, 3)
	var progress bytes.Buffer
	d, err := Open(context.Background(), dir, Options{Progress: &progress})
	if err != nil {
		t.Fatal(err)
	}
	if d.Rows() != int64(len(rows)) || d.Kind() != shards.KindSamples || len(d.Files()) != 3 {
		t.Fatalf("rows %d kind %s files %v", d.Rows(), d.Kind(), d.Files())
	}
	if !strings.Contains(progress.String(), "indexed 17 rows in 3 file(s)") {
		t.Errorf("progress %q", progress.String())
	}
	if d.CacheDir != filepath.Join(dir, CacheDirName) {
		t.Errorf("cache dir %s", d.CacheDir)
	}
	if _, err := os.Stat(filepath.Join(d.CacheDir, indexFile)); err != nil {
		t.Fatal(err)
	}

	// Unchanged files: the cached index, no pass.
	progress.Reset()
	d2, err := Open(context.Background(), dir, Options{Progress: &progress})
	if err != nil {
		t.Fatal(err)
	}
	if progress.Len() != 0 || d2.Rows() != d.Rows() || !slices.Equal(d2.Stats().CaptionChars, d.Stats().CaptionChars) {
		t.Errorf("second open rebuilt the index (%q) or differs", progress.String())
	}

	// A file that changes (here: touched) invalidates the cache.
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(filepath.Join(dir, "00001.arrow"), later, later); err != nil {
		t.Fatal(err)
	}
	progress.Reset()
	if _, err := Open(context.Background(), dir, Options{Progress: &progress}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(progress.String(), "indexed 17 rows") {
		t.Errorf("touched file did not rebuild the index: %q", progress.String())
	}
	// ... and a dataset whose file changed under a running viewer refuses to serve stale rows.
	if err := os.Chtimes(filepath.Join(dir, "00001.arrow"), later.Add(time.Hour), later.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Sample(context.Background(), 8); err == nil || !strings.Contains(err.Error(), "changed") {
		t.Errorf("reading a changed file: %v", err)
	}

	// A damaged cache is rebuilt, not trusted.
	if err := os.WriteFile(filepath.Join(d.CacheDir, indexFile), []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	if d3, err := Open(context.Background(), dir, Options{}); err != nil || d3.Rows() != 17 {
		t.Fatalf("damaged cache: %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	empty := t.TempDir()
	if _, err := Open(context.Background(), empty, Options{}); err == nil || !strings.Contains(err.Error(), "no shard files") {
		t.Errorf("empty folder: %v", err)
	}
	if _, err := Open(context.Background(), filepath.Join(empty, "missing"), Options{}); err == nil {
		t.Error("missing folder accepted")
	}
	bad := t.TempDir()
	if err := os.WriteFile(filepath.Join(bad, "00000.arrow"), []byte("not arrow at all, not arrow at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(context.Background(), bad, Options{}); err == nil {
		t.Error("corrupt shard accepted")
	}
}

func TestReadOnlyFolderCachesElsewhere(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root can write into a read-only folder")
	}
	dir, _ := writeTestDataset(t, 20, 4)
	os.Chmod(dir, 0o555)
	t.Cleanup(func() { os.Chmod(dir, 0o755) })
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	d := openTest(t, dir)
	if strings.HasPrefix(d.CacheDir, dir) {
		t.Errorf("cache %s inside the read-only folder", d.CacheDir)
	}
}

func TestKeysAndRows(t *testing.T) {
	dir, rows := writeTestDataset(t, 7, 3)
	d := openTest(t, dir)
	for r := range int64(len(rows)) {
		key := d.Key(r)
		if want := shards.SampleKey(int(r)/7, int(r)%7); key != want {
			t.Fatalf("row %d key %s, want %s", r, key, want)
		}
		if got, ok := d.Lookup(key); !ok || got != r {
			t.Fatalf("lookup %s: %d %v", key, got, ok)
		}
		s, err := d.Sample(context.Background(), r)
		if err != nil {
			t.Fatal(err)
		}
		want := rows[r]
		if s.Caption != want.Caption || s.Language != want.Language || s.CaptionSource != want.Source || !slices.Equal(s.Queries, want.Queries) ||
			s.Width != want.Width || s.OriginalWidth != want.OrigWidth || !s.HasImage || s.File != shards.FileName(int(r)/7) {
			t.Fatalf("row %d: %+v, want %+v", r, s, want)
		}
	}
	for _, bad := range []string{"", "x", "000000099", "../00000.arrow", "00000.arrow", "0000000000"} {
		if _, ok := d.Lookup(bad); ok {
			t.Errorf("key %q found", bad)
		}
	}
	if _, err := d.Sample(context.Background(), 17); err == nil {
		t.Error("row past the end read")
	}

	// Pairs have no key column: keys are file number + row, and only the canonical spelling exists.
	pdir, prows := writeTestPairs(t, 5)
	p := openTest(t, pdir)
	if p.Kind() != shards.KindPairs || p.HasImages() || p.Rows() != int64(len(prows)) {
		t.Fatalf("pairs: kind %s rows %d", p.Kind(), p.Rows())
	}
	for r := range p.Rows() {
		key := p.Key(r)
		if want := shards.SampleKey(int(r)/5, int(r)%5); key != want {
			t.Fatalf("pair row %d key %s, want %s", r, key, want)
		}
		if got, ok := p.Lookup(key); !ok || got != r {
			t.Fatalf("pair lookup %s: %d %v", key, got, ok)
		}
	}
	for _, bad := range []string{"000000005", "00000005", "0000000000", "000040000", "00003000x"} {
		if _, ok := p.Lookup(bad); ok {
			t.Errorf("pair key %q found", bad)
		}
	}
}

func TestPageFiltersAndBudget(t *testing.T) {
	dir, rows := writeTestDataset(t, 7, 3)
	d := openTest(t, dir)
	ctx := context.Background()
	// Expected matches, computed from the test rows directly.
	want := func(keep func(r testRow) bool) []string {
		var out []string
		for _, r := range rows {
			if keep(r) {
				out = append(out, r.Caption)
			}
		}
		return out
	}
	for _, tc := range []struct {
		name string
		f    Filter
		keep func(r testRow) bool
	}{
		{"none", Filter{}, func(testRow) bool { return true }},
		{"text", Filter{Text: "ROSE"}, func(r testRow) bool { return strings.Contains(strings.ToLower(r.Caption), "rose") }},
		{"text non-ASCII", Filter{Text: "ÉTÉ"}, func(r testRow) bool { return false }},
		{"query", Filter{Query: "red"}, func(r testRow) bool { return slices.Contains(r.Queries, "red") }},
		{"language", Filter{Language: "fr"}, func(r testRow) bool { return r.Language == "fr" }},
		{"source", Filter{Source: "og"}, func(r testRow) bool { return r.Source == "og" }},
		{"min size", Filter{MinWidth: 100, MinHeight: 100}, func(r testRow) bool { return r.OrigWidth >= 100 && r.OrigHeight >= 100 }},
		{"combined", Filter{Query: "red", Language: "en"}, func(r testRow) bool { return slices.Contains(r.Queries, "red") && r.Language == "en" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			start := int64(0)
			for pages := 0; start < d.Rows(); pages++ {
				p, err := d.Page(ctx, tc.f, start, 4, Budget{})
				if err != nil {
					t.Fatal(err)
				}
				if p.Next <= start || pages > 20 {
					t.Fatalf("no progress from %d: %+v", start, p)
				}
				for _, s := range p.Samples {
					got = append(got, s.Caption)
				}
				start = p.Next
			}
			if w := want(tc.keep); !slices.Equal(got, w) {
				t.Errorf("got %q\nwant %q", got, w)
			}
		})
	}

	// A scan budget of 5 rows: pages end early, marked partial, and continuing finds every match.
	var got []string
	start, partial := int64(0), 0
	for start < d.Rows() {
		p, err := d.Page(ctx, Filter{Query: "gopher"}, start, 10, Budget{Rows: 5})
		if err != nil {
			t.Fatal(err)
		}
		if p.Next-p.Start > 5 {
			t.Fatalf("scanned %d rows with a budget of 5", p.Next-p.Start)
		}
		if p.Partial {
			partial++
		}
		for _, s := range p.Samples {
			got = append(got, s.Caption)
		}
		start = p.Next
	}
	if !slices.Equal(got, want(func(r testRow) bool { return slices.Contains(r.Queries, "gopher") })) || partial == 0 {
		t.Errorf("budgeted scan found %q (%d partial pages)", got, partial)
	}
}

func TestNearDuplicates(t *testing.T) {
	dir, rows := writeTestDataset(t, 7, 3)
	d := openTest(t, dir)
	idx := func(file string) int64 {
		return int64(slices.IndexFunc(rows, func(r testRow) bool { return r.File == file }))
	}
	still, progressive := idx("video-001.jpeg"), idx("video-001.progressive.jpeg")
	dups := d.NearDuplicates(still, maxDupDistance, 10)
	if len(dups) == 0 || dups[0].Row != progressive || dups[0].Key != d.Key(progressive) {
		t.Fatalf("near-duplicates of the video still: %+v, want row %d first", dups, progressive)
	}
	for _, n := range dups {
		if n.Distance > maxDupDistance || n.Row == still {
			t.Errorf("neighbour %+v", n)
		}
	}
	if got := d.NearDuplicates(idx("green-apple.png"), 0, 10); len(got) != 0 {
		t.Errorf("the apple has exact pHash twins: %+v", got)
	}
}

func TestStatsOfTheScan(t *testing.T) {
	dir, rows := writeTestDataset(t, 7, 3)
	d := openTest(t, dir)
	st := d.Stats()
	var chars, words, sum int64
	for n, c := range st.CaptionChars {
		chars += int64(n) * c
		sum += c
	}
	for n, c := range st.CaptionWords {
		words += int64(n) * c
	}
	var wantChars, wantWords, matches int64
	langs, queries := map[string]int64{}, map[string]int64{}
	for _, r := range rows {
		wantChars += int64(len([]rune(r.Caption)))
		wantWords += int64(len(strings.Fields(r.Caption)))
		langs[r.Language]++
		for _, q := range r.Queries {
			queries[q]++
			matches++
		}
	}
	if sum != 17 || chars != wantChars || words != wantWords || st.Rows != 17 || st.Files != 3 {
		t.Errorf("captions: %d rows, %d chars (want %d), %d words (want %d)", sum, chars, wantChars, words, wantWords)
	}
	if len(st.Languages) != 3 || st.Languages[0] != (Count{"en", langs["en"]}) {
		t.Errorf("languages %+v", st.Languages)
	}
	q := st.Queries
	if q.Distinct != len(queries) || q.Matches != matches || q.RowsWithQuery != 17 || q.Top[0] != (Count{"red", 3}) {
		t.Errorf("queries %+v", q)
	}
	var entries, m int64
	for _, e := range q.ByMatches {
		entries += e.Entries
		m += e.Entries * e.Matches
	}
	if entries != int64(len(queries)) || m != matches {
		t.Errorf("rank–frequency curve sums to %d entries, %d matches", entries, m)
	}
	var sides int64
	for _, n := range st.OriginalSides {
		sides += n
	}
	if sides != 17 || st.ImageBytes == 0 || len(st.ImageSizes) == 0 {
		t.Errorf("sizes %+v %+v", st.OriginalSides, st.ImageSizes)
	}

	ss := d.StageStats()
	if ss.FetchOK != 17 || ss.FetchFailures["http_404"] != 9 || ss.FetchFailures["decode"] != 3 {
		t.Errorf("fetch stats %+v", ss)
	}
	if ss.Balance == nil || ss.Balance.Threshold != 1 || ss.FilterKept != 17 || ss.FilterDropped["language"] != 25 || ss.FilterDropped["duplicate"] != 0 {
		t.Errorf("filter stats %+v %+v", ss, ss.Balance)
	}
}
