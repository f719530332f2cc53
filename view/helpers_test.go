package view

import (
	"bufio"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/witdata/wit/imgproc"
	"github.com/witdata/wit/internal/atomicfile"
	"github.com/witdata/wit/shards"
)

// testRow is one line of testdata/samples.tsv, and what imgproc made of its image.
type testRow struct {
	File, Caption, Source, Language, PageURL string
	Queries                                  []string
	Image                                    []byte // stored JPEG
	Width, Height, OrigWidth, OrigHeight     int
	PHash                                    uint64
	SHA256                                   string
}

// testRows reads testdata/samples.tsv and processes its images as fetch does (64 px, border).
func testRows(t testing.TB) []testRow {
	t.Helper()
	f, err := os.Open("testdata/samples.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows []testRow
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		c := strings.Split(sc.Text(), "\t")
		if len(c) != 6 {
			t.Fatalf("samples.tsv: %q has %d fields", sc.Text(), len(c))
		}
		data, err := os.ReadFile(filepath.Join("testdata/images", c[0]))
		if err != nil {
			t.Fatal(err)
		}
		res, err := imgproc.Process(data, imgproc.Options{Size: 64})
		if err != nil {
			t.Fatalf("%s: %v", c[0], err)
		}
		rows = append(rows, testRow{
			File: c[0], Caption: c[1], Source: c[2], Language: c[3], Queries: strings.Split(c[4], "|"), PageURL: c[5],
			Image: res.JPEG, Width: res.Width, Height: res.Height, OrigWidth: res.OrigWidth, OrigHeight: res.OrigHeight,
			PHash: res.PHash, SHA256: hex.EncodeToString(res.SHA256[:]),
		})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return rows
}

// testFailures are the fetch failures the test's per-shard stats record, per shard.
var testFailures = map[string]int64{"http_404": 3, "decode": 1}

// writeTestDataset writes the test rows as image shards of perFile rows in batches of batchRows,
// with fetch's per-shard stats (testFailures in each) and a filter-stats.json whose balancing
// threshold is 1.
func writeTestDataset(t testing.TB, perFile, batchRows int) (string, []testRow) {
	t.Helper()
	rows := testRows(t)
	dir := filepath.Join(t.TempDir(), "shards")
	var stats []shards.ShardStats
	w, err := shards.NewWriter(dir, shards.SampleSchema, shards.WriterOptions{
		RowsPerFile: perFile, BatchRows: batchRows, Metadata: shards.SampleMetadata(),
		AfterCommit: func(c shards.Commit) error {
			stats = append(stats, shards.ShardStats{File: filepath.Base(c.Path), Count: int64(c.Rows) + 4, Successes: int64(c.Rows),
				Failures: testFailures, Bytes: c.Bytes, StartTime: time.Unix(0, 0).UTC(), EndTime: time.Unix(1, 0).UTC()})
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range rows {
		shards.AppendSample(w.Builder(), &shards.Sample{
			Key: shards.SampleKey(i/perFile, i%perFile), Image: r.Image, Caption: r.Caption, URL: "https://img.example.org/" + r.File,
			PageURL: r.PageURL, CaptionSource: r.Source, Width: r.Width, Height: r.Height, OriginalWidth: r.OrigWidth,
			OriginalHeight: r.OrigHeight, SHA256: r.SHA256, PHash: r.PHash, MatchedQueries: r.Queries, Language: r.Language,
		})
		if err := w.EndRow(); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	for i, s := range stats {
		if err := atomicfile.WriteJSON(filepath.Join(dir, shards.StatsName(i)), &s); err != nil {
			t.Fatal(err)
		}
	}
	filterStats := `{"rows": 60, "kept": 17, "dropped": {"language": 25, "no_query_match": 18, "duplicate": 0},
	  "balance": {"mode": "exact", "threshold": 1, "entries_matched": 16, "entries_over_t": 4, "matches": 30,
	    "top_entries": [{"entry": "red", "count": 9, "p": 0.11}, {"entry": "rose", "count": 5, "p": 0.2}]}}`
	if err := os.WriteFile(filepath.Join(dir, "filter-stats.json"), []byte(filterStats), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, rows
}

// writeTestPairs writes the test rows as filtered pairs (no images, no key column), perFile rows a
// file.
func writeTestPairs(t testing.TB, perFile int) (string, []testRow) {
	t.Helper()
	rows := testRows(t)
	fields := append(shards.PairSchema.Fields(),
		arrow.Field{Name: shards.ColMatchedQueries, Type: arrow.ListOf(arrow.BinaryTypes.String)},
		arrow.Field{Name: shards.ColLanguage, Type: arrow.BinaryTypes.String})
	dir := filepath.Join(t.TempDir(), "filtered")
	w, err := shards.NewWriter(dir, arrow.NewSchema(fields, nil), shards.WriterOptions{RowsPerFile: perFile, BatchRows: 3})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		b := w.Builder()
		shards.AppendPair(b, shards.Pair{PageURL: r.PageURL, ImageURL: "https://img.example.org/" + r.File, Caption: r.Caption,
			CaptionSource: r.Source, PageLang: "en", FetchedAt: time.Unix(1700000000, 0)})
		lb := b.Field(6).(*array.ListBuilder)
		lb.Append(true)
		for _, q := range r.Queries {
			lb.ValueBuilder().(*array.StringBuilder).Append(q)
		}
		b.Field(7).(*array.StringBuilder).Append(r.Language)
		if err := w.EndRow(); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, rows
}

// scaledImages re-encodes the test images at size px (fetch's border mode).
func scaledImages(t testing.TB, rows []testRow, size int) [][]byte {
	t.Helper()
	out := make([][]byte, len(rows))
	for i, r := range rows {
		data, err := os.ReadFile(filepath.Join("testdata/images", r.File))
		if err != nil {
			t.Fatal(err)
		}
		res, err := imgproc.Process(data, imgproc.Options{Size: size})
		if err != nil {
			t.Fatal(err)
		}
		out[i] = res.JPEG
	}
	return out
}
