package shards

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/witdata/wit/internal/procstat"
)

// expJPEG encodes a w x h picture (smooth gradients plus noise, like a downscaled photo).
func expJPEG(t testing.TB, w, h int, seed uint64) []byte {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 7))
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			n := int(rng.Uint32()%24) - 12
			img.Set(x, y, color.RGBA{
				R: uint8(clamp8(x*255/w + n)), G: uint8(clamp8(y*255/h + n)),
				B: uint8(clamp8((x+y)*128/(w+h) + int(seed%64) + n)), A: 255,
			})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func clamp8(v int) int { return max(0, min(255, v)) }

// expDataset describes shards written by writeExpShards.
type expDataset struct {
	dir     string
	samples []*Sample // in file order
	perFile int
}

type expOptions struct {
	n, perFile, batch int
	w, h              int // image size (default 24x16)
	noMeta            bool
	mutate            func(i int, s *Sample)
}

// writeExpShards writes n samples with real JPEGs, per-shard stats records and a manifest, the
// way fetch lays out a directory.
func writeExpShards(t testing.TB, dir string, o expOptions) *expDataset {
	t.Helper()
	if o.w == 0 {
		o.w, o.h = 24, 16
	}
	if o.batch == 0 {
		o.batch = 4
	}
	images := make([][]byte, 5)
	for i := range images {
		images[i] = expJPEG(t, o.w, o.h, uint64(i))
	}
	w, err := NewWriter(dir, SampleSchema, WriterOptions{RowsPerFile: o.perFile, BatchRows: o.batch, Metadata: SampleMetadata(),
		AfterCommit: func(c Commit) error {
			if o.noMeta {
				return nil
			}
			return writeJSON(filepath.Join(dir, StatsName(c.Index)), &ShardStats{
				File: filepath.Base(c.Path), Count: int64(c.Rows) + 1, Successes: int64(c.Rows),
				Failures: map[string]int64{"decode": 1}, Bytes: c.Bytes, StartTime: time.Unix(0, 0).UTC(), EndTime: time.Unix(1, 0).UTC(), DurationS: 1,
			})
		}})
	if err != nil {
		t.Fatal(err)
	}
	ds := &expDataset{dir: dir, perFile: o.perFile}
	langs := []string{"en", "en", "en", "de"}
	for i := range o.n {
		s := &Sample{
			Key:            SampleKey(i/o.perFile, i%o.perFile),
			Image:          images[i%len(images)],
			Caption:        fmt.Sprintf("a \"red\" bicycle\tnumber %d by the lake ü", i),
			URL:            fmt.Sprintf("http://img.test/%d.jpg", i),
			PageURL:        fmt.Sprintf("http://page.test/%d", i/2),
			CaptionSource:  []string{SourceAlt, SourceTitle, SourceFigcaption}[i%3],
			Width:          o.w,
			Height:         o.h,
			OriginalWidth:  300 + 100*(i%8),
			OriginalHeight: 200,
			SHA256:         fmt.Sprintf("%064x", i+1),
			PHash:          uint64(i) * 0x9E3779B97F4A7C15,
			Language:       langs[i%len(langs)],
		}
		if i%4 != 3 {
			s.MatchedQueries = []string{"bicycle", []string{"lake", "red"}[i%2]}
		}
		if o.mutate != nil {
			o.mutate(i, s)
		}
		AppendSample(w.Builder(), s)
		if err := w.EndRow(); err != nil {
			t.Fatal(err)
		}
		ds.samples = append(ds.samples, s)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if !o.noMeta {
		m, err := BuildManifest(dir)
		if err != nil {
			t.Fatal(err)
		}
		if err := WriteManifest(dir, m); err != nil {
			t.Fatal(err)
		}
	}
	return ds
}

// wdsName is webdataset's base_plus_ext pattern.
var wdsName = regexp.MustCompile(`^((?:.*/|)[^.]+)[.]([^/]*)$`)

type tarEntry struct {
	name string
	data []byte
}

func readTar(t *testing.T, path string) []tarEntry {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	var out []tarEntry
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if h.Typeflag != tar.TypeReg || h.Mode != 0o644 {
			t.Fatalf("%s: entry %s type %c mode %o", path, h.Name, h.Typeflag, h.Mode)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, tarEntry{h.Name, data})
	}
}

// checkWebDatasetSamples checks that entries are exactly key.jpg, key.txt, key.json for each
// sample in order, with the sample's contents.
func checkWebDatasetSamples(t *testing.T, entries []tarEntry, want []*Sample) {
	t.Helper()
	if len(entries) != 3*len(want) {
		t.Fatalf("%d tar entries, want %d", len(entries), 3*len(want))
	}
	// Group the way webdataset (OpenCLIP's loader) does: the key is the name up to the first
	// dot of its base name, consecutive files with one key form a sample, and a suffix
	// seen twice in one sample is an error.
	var groups []map[string]bool
	prev := "\x00"
	for _, e := range entries {
		m := wdsName.FindStringSubmatch(e.name)
		if m == nil {
			t.Fatalf("webdataset cannot split %q", e.name)
		}
		if m[1] != prev {
			groups = append(groups, map[string]bool{})
			prev = m[1]
		}
		g := groups[len(groups)-1]
		if g[m[2]] {
			t.Fatalf("webdataset: duplicate file name %s in one sample", e.name)
		}
		g[m[2]] = true
	}
	if len(groups) != len(want) {
		t.Fatalf("webdataset sees %d samples, want %d", len(groups), len(want))
	}
	for i, s := range want {
		e := entries[3*i : 3*i+3]
		names := []string{e[0].name, e[1].name, e[2].name}
		if !slices.Equal(names, []string{s.Key + ".jpg", s.Key + ".txt", s.Key + ".json"}) {
			t.Fatalf("sample %d: entries %v", i, names)
		}
		if !bytes.Equal(e[0].data, s.Image) {
			t.Fatalf("sample %d: image differs", i)
		}
		if string(e[1].data) != s.Caption {
			t.Fatalf("sample %d: caption %q, want %q", i, e[1].data, s.Caption)
		}
		var meta struct {
			Key            string   `json:"key"`
			Caption        string   `json:"caption"`
			URL            string   `json:"url"`
			PageURL        string   `json:"page_url"`
			CaptionSource  string   `json:"caption_source"`
			Width          int      `json:"width"`
			Height         int      `json:"height"`
			OriginalWidth  int      `json:"original_width"`
			OriginalHeight int      `json:"original_height"`
			SHA256         string   `json:"sha256"`
			PHash          uint64   `json:"phash"`
			MatchedQueries []string `json:"matched_queries"`
			Language       string   `json:"language"`
		}
		dec := json.NewDecoder(bytes.NewReader(e[2].data))
		dec.DisallowUnknownFields() // the image must not be in the JSON
		if err := dec.Decode(&meta); err != nil {
			t.Fatalf("sample %d json %s: %v", i, e[2].data, err)
		}
		got := &Sample{Key: meta.Key, Image: s.Image, Caption: meta.Caption, URL: meta.URL, PageURL: meta.PageURL,
			CaptionSource: meta.CaptionSource, Width: meta.Width, Height: meta.Height, OriginalWidth: meta.OriginalWidth,
			OriginalHeight: meta.OriginalHeight, SHA256: meta.SHA256, PHash: meta.PHash, MatchedQueries: meta.MatchedQueries, Language: meta.Language}
		if len(got.MatchedQueries) == 0 {
			got.MatchedQueries = nil
		}
		if !reflect.DeepEqual(got, s) {
			t.Fatalf("sample %d json:\n got %+v\nwant %+v", i, got, s)
		}
	}
}

func readExportManifest(t *testing.T, dir string) (*ExportManifest, map[string]int64) {
	t.Helper()
	var m ExportManifest
	data, err := os.ReadFile(filepath.Join(dir, ManifestName))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	var sizes map[string]int64
	data, err = os.ReadFile(filepath.Join(dir, SizesName))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &sizes); err != nil {
		t.Fatal(err)
	}
	return &m, sizes
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestExportWebDatasetPerShard(t *testing.T) {
	ctx := context.Background()
	ds := writeExpShards(t, t.TempDir(), expOptions{n: 25, perFile: 10, batch: 4})
	out := t.TempDir()
	res, err := Export(ctx, ds.dir, out, ExportOptions{Format: FormatWebDataset})
	if err != nil {
		t.Fatal(err)
	}
	if res.Written != 3 || res.Skipped != 0 || res.Samples != 25 {
		t.Fatalf("result %+v", res)
	}
	want := []string{"00000.tar", "00001.tar", "00002.tar", ManifestName, SizesName}
	if got := listDir(t, out); !slices.Equal(got, want) {
		t.Fatalf("out dir %v, want %v", got, want)
	}
	for k := range 3 {
		entries := readTar(t, filepath.Join(out, fmt.Sprintf("%05d.tar", k)))
		checkWebDatasetSamples(t, entries, ds.samples[k*10:min(25, k*10+10)])
	}
	m, sizes := readExportManifest(t, out)
	if m.TotalCount != 25 || m.Format != FormatWebDataset || len(m.Shards) != 3 {
		t.Fatalf("manifest %+v", m)
	}
	if !reflect.DeepEqual(sizes, map[string]int64{"00000.tar": 10, "00001.tar": 10, "00002.tar": 5}) {
		t.Fatalf("sizes %v", sizes)
	}

	// Rerun: everything is complete.
	res, err = Export(ctx, ds.dir, out, ExportOptions{Format: FormatWebDataset})
	if err != nil || res.Written != 0 || res.Skipped != 3 {
		t.Fatalf("rerun: %+v %v", res, err)
	}
	// A missing output and a truncated one are rewritten; a stale temp file is removed.
	os.Remove(filepath.Join(out, "00000.tar"))
	if err := os.Truncate(filepath.Join(out, "00002.tar"), 1000); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(out, "00001.tar.tmp-123"), []byte("partial"), 0o644)
	res, err = Export(ctx, ds.dir, out, ExportOptions{Format: FormatWebDataset})
	if err != nil || res.Written != 2 || res.Skipped != 1 {
		t.Fatalf("resume: %+v %v", res, err)
	}
	if got := listDir(t, out); !slices.Equal(got, want) {
		t.Fatalf("out dir after resume %v", got)
	}
	checkWebDatasetSamples(t, readTar(t, filepath.Join(out, "00002.tar")), ds.samples[20:])

	// Other options into the same directory are refused.
	if _, err := Export(ctx, ds.dir, out, ExportOptions{Format: FormatWebDataset, SamplesPerTar: 4}); err == nil || !strings.Contains(err.Error(), "another output directory") {
		t.Fatalf("mixed options: %v", err)
	}
}

func TestExportWebDatasetRechunked(t *testing.T) {
	ctx := context.Background()
	ds := writeExpShards(t, t.TempDir(), expOptions{n: 25, perFile: 10, batch: 3})
	out := t.TempDir()
	opts := ExportOptions{Format: FormatWebDataset, SamplesPerTar: 7}
	res, err := Export(ctx, ds.dir, out, opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Written != 4 || res.Samples != 25 {
		t.Fatalf("result %+v", res)
	}
	check := func() {
		t.Helper()
		for k := range 4 {
			entries := readTar(t, filepath.Join(out, fmt.Sprintf("%05d.tar", k)))
			checkWebDatasetSamples(t, entries, ds.samples[k*7:min(25, k*7+7)])
		}
		_, sizes := readExportManifest(t, out)
		if !reflect.DeepEqual(sizes, map[string]int64{"00000.tar": 7, "00001.tar": 7, "00002.tar": 7, "00003.tar": 4}) {
			t.Fatalf("sizes %v", sizes)
		}
	}
	check()
	// Resume after losing tar 1: tars 0 and 2 are kept; the short last one is rewritten.
	os.Remove(filepath.Join(out, "00001.tar"))
	res, err = Export(ctx, ds.dir, out, opts)
	if err != nil || res.Written != 2 || res.Samples != 11 {
		t.Fatalf("resume: %+v %v", res, err)
	}
	check()
}

func readParquet(t *testing.T, path string) *array.TableReader {
	t.Helper()
	pf, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pf.Close() })
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: 1000}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := fr.ReadTable(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tbl.Release)
	return array.NewTableReader(tbl, 1000)
}

func TestExportParquetSamples(t *testing.T) {
	for _, codec := range []string{"", "snappy", "none"} {
		t.Run("codec="+codec, func(t *testing.T) {
			ds := writeExpShards(t, t.TempDir(), expOptions{n: 23, perFile: 10, batch: 4})
			out := t.TempDir()
			res, err := Export(context.Background(), ds.dir, out, ExportOptions{Format: FormatParquet, Compression: codec, RowGroupRows: 6})
			if err != nil {
				t.Fatal(err)
			}
			if res.Written != 3 || res.Samples != 23 {
				t.Fatalf("result %+v", res)
			}
			var got []*Sample
			for k := range 3 {
				tr := readParquet(t, filepath.Join(out, fmt.Sprintf("%05d.parquet", k)))
				if !sameColumns(tr.Schema(), SampleSchema) {
					t.Fatalf("parquet schema %v", tr.Schema())
				}
				for tr.Next() {
					rec := tr.RecordBatch()
					for i := 0; i < int(rec.NumRows()); i++ {
						s, err := SampleAt(rec, i)
						if err != nil {
							t.Fatal(err)
						}
						got = append(got, s)
					}
				}
				tr.Release()
			}
			if !reflect.DeepEqual(got, ds.samples) {
				t.Fatalf("parquet rows differ from the shards")
			}
			m, _ := readExportManifest(t, out)
			wantCodec := codec
			if wantCodec == "" {
				wantCodec = "zstd"
			}
			if m.Compression != wantCodec || m.TotalCount != 23 {
				t.Fatalf("manifest %+v", m)
			}
		})
	}
}

func TestExportPairs(t *testing.T) {
	dir := t.TempDir()
	w, err := NewWriter(dir, PairSchema, WriterOptions{RowsPerFile: 5, BatchRows: 2})
	if err != nil {
		t.Fatal(err)
	}
	var want []Pair
	for i := range 12 {
		p := Pair{PageURL: fmt.Sprintf("http://p.test/%d", i), ImageURL: fmt.Sprintf("http://p.test/%d.jpg", i), Caption: "cap " + fmt.Sprint(i),
			CaptionSource: SourceAlt, PageLang: "en", FetchedAt: time.UnixMilli(1700000000000 + int64(i)).UTC()}
		AppendPair(w.Builder(), p)
		if err := w.EndRow(); err != nil {
			t.Fatal(err)
		}
		want = append(want, p)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = Export(context.Background(), dir, t.TempDir(), ExportOptions{Format: FormatWebDataset})
	if !errors.Is(err, ErrNoImages) {
		t.Fatalf("webdataset of pairs: %v", err)
	}
	out := t.TempDir()
	if _, err := Export(context.Background(), dir, out, ExportOptions{Format: FormatParquet}); err != nil {
		t.Fatal(err)
	}
	var got []Pair
	for k := range 3 {
		tr := readParquet(t, filepath.Join(out, fmt.Sprintf("%05d.parquet", k)))
		for tr.Next() {
			ps, err := Pairs(tr.RecordBatch())
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, ps...)
		}
		tr.Release()
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("pairs round trip:\n got %v\nwant %v", got, want)
	}
}

func TestExportErrors(t *testing.T) {
	ctx := context.Background()
	ds := writeExpShards(t, t.TempDir(), expOptions{n: 12, perFile: 6})
	tests := []struct {
		name string
		opts ExportOptions
		want string
	}{
		{"format", ExportOptions{Format: "zip"}, "unknown format"},
		{"codec", ExportOptions{Format: FormatParquet, Compression: "lzma"}, "unknown parquet compression"},
		{"per tar with parquet", ExportOptions{Format: FormatParquet, SamplesPerTar: 3}, "webdataset only"},
		{"negative", ExportOptions{Format: FormatWebDataset, SamplesPerTar: -1}, "< 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Export(ctx, ds.dir, t.TempDir(), tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
		})
	}
	if _, err := Export(ctx, ds.dir, ds.dir, ExportOptions{Format: FormatParquet}); err == nil {
		t.Fatal("export into the source directory accepted")
	}
	if _, err := Export(ctx, t.TempDir(), t.TempDir(), ExportOptions{Format: FormatParquet}); err == nil {
		t.Fatal("empty source accepted")
	}

	// A corrupt shard stops the export with an error naming it; the outputs before it are
	// complete and nothing partial is left.
	data, _ := os.ReadFile(filepath.Join(ds.dir, "00001.arrow"))
	os.WriteFile(filepath.Join(ds.dir, "00001.arrow"), data[:len(data)/2], 0o644)
	for _, format := range []string{FormatWebDataset, FormatParquet} {
		out := t.TempDir()
		_, err := Export(ctx, ds.dir, out, ExportOptions{Format: format})
		if err == nil || !strings.Contains(err.Error(), "00001.arrow") || !errors.Is(err, ErrCorrupt) {
			t.Fatalf("%s: corrupt shard: %v", format, err)
		}
		for _, name := range listDir(t, out) {
			if strings.Contains(name, "00001") || strings.Contains(name, ".tmp-") {
				t.Fatalf("%s: left %s", format, name)
			}
		}
	}

	// Keys that cannot name a webdataset sample are refused.
	bad := writeExpShards(t, t.TempDir(), expOptions{n: 3, perFile: 3, mutate: func(i int, s *Sample) {
		if i == 1 {
			s.Key = "0000.0001"
		}
	}})
	out := t.TempDir()
	if _, err := Export(ctx, bad.dir, out, ExportOptions{Format: FormatWebDataset}); err == nil || !strings.Contains(err.Error(), "no dots") {
		t.Fatalf("dotted key: %v", err)
	}
	if names := listDir(t, out); len(names) != 0 {
		t.Fatalf("left %v", names)
	}
}

func TestExportCancel(t *testing.T) {
	ds := writeExpShards(t, t.TempDir(), expOptions{n: 12, perFile: 6})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	out := t.TempDir()
	if _, err := Export(ctx, ds.dir, out, ExportOptions{Format: FormatParquet}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v", err)
	}
	for _, name := range listDir(t, out) {
		if strings.HasSuffix(name, ".parquet") || strings.Contains(name, ".tmp-") {
			t.Fatalf("left %s", name)
		}
	}
}

func TestAppendJSONString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", `"plain"`},
		{`a"b\c`, `"a\"b\\c"`},
		{"tab\tnl\ncr\r", `"tab\tnl\ncr\r"`},
		{"\x00\x1f", `"\u0000\u001f"`},
		{"ü€😀", `"ü€😀"`},
		{"bad\xffutf8", `"bad\ufffdutf8"`},
		{"ls\u2028ps\u2029", `"ls\u2028ps\u2029"`},
	}
	for _, tc := range tests {
		if got := string(appendJSONString(nil, tc.in)); got != tc.want {
			t.Errorf("appendJSONString(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "a", "\"\\", "\x00\xff", "ü\u2028", "\xed\xa0\x80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := appendJSONString(nil, s)
		var back string
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("%q -> %s: invalid JSON: %v", s, out, err)
		}
		if utf8.ValidString(s) && back != s {
			t.Fatalf("%q -> %s -> %q", s, out, back)
		}
		if !utf8.ValidString(s) && back != strings.ToValidUTF8(s, "\ufffd") {
			// each invalid byte becomes one U+FFFD; ToValidUTF8 merges runs, so compare loosely
			if strings.ReplaceAll(back, "\ufffd", "") != strings.ReplaceAll(strings.ToValidUTF8(s, "\ufffd"), "\ufffd", "") {
				t.Fatalf("%q -> %s -> %q", s, out, back)
			}
		}
	})
}

// benchDataset writes ~2000 samples of 256x256 q90 JPEGs (about 20-30 KB each, what fetch
// stores) once per benchmark.
func benchDataset(b *testing.B) (string, int64) {
	b.Helper()
	dir := b.TempDir()
	writeExpShards(b, dir, expOptions{n: 2000, perFile: 1000, batch: 256, w: 256, h: 256})
	var size int64
	files, _ := ListFiles(dir)
	for _, f := range files {
		size += fileSize(f)
	}
	return dir, size
}

func benchmarkExport(b *testing.B, opts ExportOptions) {
	dir, size := benchDataset(b)
	b.SetBytes(size)
	cpu := startCPU()
	for b.Loop() {
		out := b.TempDir()
		if _, err := Export(context.Background(), dir, out, opts); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		os.RemoveAll(out)
		b.StartTimer()
	}
	cpu.report(b, size)
}

// cpuClock measures the process's CPU time: on a shared machine, wall-clock MB/s depends on the
// other load, MB per CPU-second much less.
type cpuClock struct{ start time.Duration }

func startCPU() cpuClock { return cpuClock{procstat.CPUTime()} }

func (c cpuClock) report(b *testing.B, bytesPerOp int64) {
	if s := (procstat.CPUTime() - c.start).Seconds(); s > 0 {
		b.ReportMetric(float64(bytesPerOp)*float64(b.N)/s/1e6, "MB/cpu-s")
	}
}

func BenchmarkExportWebDataset(b *testing.B) {
	benchmarkExport(b, ExportOptions{Format: FormatWebDataset, Logger: discardLogger()})
}

func BenchmarkExportParquetZstd(b *testing.B) {
	benchmarkExport(b, ExportOptions{Format: FormatParquet, Logger: discardLogger()})
}

func BenchmarkExportParquetSnappy(b *testing.B) {
	benchmarkExport(b, ExportOptions{Format: FormatParquet, Compression: "snappy", Logger: discardLogger()})
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// sameColumns compares names, nullability and types; Parquet names list elements "element"
// where Arrow says "item", and adds field ids as metadata.
func sameColumns(a, b *arrow.Schema) bool {
	if a.NumFields() != b.NumFields() {
		return false
	}
	for i := range a.NumFields() {
		fa, fb := a.Field(i), b.Field(i)
		if fa.Name != fb.Name || fa.Nullable != fb.Nullable || fa.Type.ID() != fb.Type.ID() {
			return false
		}
		if la, ok := fa.Type.(*arrow.ListType); ok {
			if !arrow.TypeEqual(la.Elem(), fb.Type.(*arrow.ListType).Elem()) {
				return false
			}
		} else if !arrow.TypeEqual(fa.Type, fb.Type) {
			return false
		}
	}
	return true
}
