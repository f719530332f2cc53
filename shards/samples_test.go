package shards

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/witdata/wit/internal/procstat"
)

func testSample(i int) *Sample {
	img := make([]byte, 200+i%50)
	for j := range img {
		img[j] = byte(i + j)
	}
	s := &Sample{
		Key:            SampleKey(i/10, i%10),
		Image:          img,
		Caption:        fmt.Sprintf("a photo of a cat number %d", i),
		URL:            fmt.Sprintf("http://example.test/img/%d.jpg", i),
		PageURL:        fmt.Sprintf("http://example.test/page/%d", i/3),
		CaptionSource:  SourceAlt,
		Width:          256,
		Height:         256,
		OriginalWidth:  640 + i,
		OriginalHeight: 480,
		SHA256:         fmt.Sprintf("%064x", i),
		PHash:          uint64(i) * 0x9E3779B97F4A7C15,
		Language:       "en",
	}
	if i%3 != 0 {
		s.MatchedQueries = []string{"cat", fmt.Sprintf("query %d", i)}
	}
	return s
}

func TestSampleKey(t *testing.T) {
	tests := []struct {
		shard, index int
		want         string
	}{
		{0, 0, "000000000"},
		{12, 42, "000120042"},
		{99999, 9999, "999999999"},
		{123456, 7, "1234560007"},
		{1, 12345, "0000112345"},
	}
	for _, tc := range tests {
		if got := SampleKey(tc.shard, tc.index); got != tc.want {
			t.Errorf("SampleKey(%d, %d) = %q, want %q", tc.shard, tc.index, got, tc.want)
		}
	}
}

func TestSamplesRoundTrip(t *testing.T) {
	dir := t.TempDir()
	w, err := NewWriter(dir, SampleSchema, WriterOptions{RowsPerFile: 40, BatchRows: 16, Metadata: SampleMetadata()})
	if err != nil {
		t.Fatal(err)
	}
	const n = 100
	for i := range n {
		AppendSample(w.Builder(), testSample(i))
		if err := w.EndRow(); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	files, _ := ListFiles(dir)
	if len(files) != 3 {
		t.Fatalf("files = %v, want 3", files)
	}
	i := 0
	for rec, err := range ReadDir(context.Background(), dir, nil) {
		if err != nil {
			t.Fatal(err)
		}
		if v := rec.Schema().Metadata().FindKey(MetaSchemaVersion); v < 0 {
			t.Fatalf("schema metadata lacks %s", MetaSchemaVersion)
		}
		cols, err := NewSampleColumns(rec)
		if err != nil {
			t.Fatal(err)
		}
		for r := range cols.Len() {
			got := cols.Sample(r)
			want := testSample(i)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("row %d:\n got %+v\nwant %+v", i, got, want)
			}
			one, err := SampleAt(rec, r)
			if err != nil || !reflect.DeepEqual(one, want) {
				t.Fatalf("SampleAt row %d: %v %+v", i, err, one)
			}
			i++
		}
	}
	if i != n {
		t.Fatalf("read %d rows, want %d", i, n)
	}
}

func TestSampleColumnsProjectionAndErrors(t *testing.T) {
	dir := t.TempDir()
	w, err := NewWriter(dir, SampleSchema, WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	AppendSample(w.Builder(), testSample(1))
	if err := w.EndRow(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	for rec, err := range ReadDir(context.Background(), dir, []string{ColCaption, ColImage}) {
		if err != nil {
			t.Fatal(err)
		}
		s, err := SampleAt(rec, 0)
		if err != nil {
			t.Fatal(err)
		}
		if s.Caption != testSample(1).Caption || len(s.Image) == 0 || s.Key != "" || s.Width != 0 {
			t.Fatalf("projected sample = %+v", s)
		}
		if _, err := SampleAt(rec, 1); err == nil {
			t.Fatal("SampleAt out of range: no error")
		}
	}
	// A pair file read as samples: caption has the right type, but a pair column reused with the
	// wrong type must be reported.
	pdir := t.TempDir()
	pw := writePairs(t, pdir, 2, WriterOptions{})
	pw.Close()
	for rec, err := range ReadDir(context.Background(), pdir, nil) {
		if err != nil {
			t.Fatal(err)
		}
		if _, err := NewSampleColumns(rec); err != nil {
			t.Fatalf("pair batch: %v", err)
		}
	}
}

func TestManifestBuildWriteRead(t *testing.T) {
	dir := t.TempDir()
	w, err := NewWriter(dir, SampleSchema, WriterOptions{RowsPerFile: 30})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 70 {
		AppendSample(w.Builder(), testSample(i))
		if err := w.EndRow(); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	// Stats for file 0 only (with the right size); files 1 and 2 are counted by reading.
	c0 := w.Committed()[0]
	if err := writeJSON(filepath.Join(dir, StatsName(0)), &ShardStats{File: FileName(0), Successes: 30, Count: 31, Bytes: c0.Bytes}); err != nil {
		t.Fatal(err)
	}
	m, err := BuildManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	if m.TotalCount != 70 || len(m.Shards) != 3 || m.Shards[2].Count != 10 || m.SchemaVersion != SchemaVersion {
		t.Fatalf("manifest = %+v", m)
	}
	var total int64
	for _, c := range w.Committed() {
		total += c.Bytes
	}
	if m.TotalBytes != total {
		t.Fatalf("total bytes %d, want %d", m.TotalBytes, total)
	}
	if err := WriteManifest(dir, m); err != nil {
		t.Fatal(err)
	}
	back, err := ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, m) {
		t.Fatalf("read back %+v, want %+v", back, m)
	}
	sizes, err := os.ReadFile(filepath.Join(dir, SizesName))
	if err != nil {
		t.Fatal(err)
	}
	if want := "{\n  \"00000.arrow\": 30,\n  \"00001.arrow\": 30,\n  \"00002.arrow\": 10\n}\n"; string(sizes) != want {
		t.Fatalf("sizes.json = %q", sizes)
	}
	m.Add(ShardInfo{File: FileName(1), Count: 5, Bytes: 1})
	m.Add(ShardInfo{File: FileName(10), Count: 1, Bytes: 1})
	m.Add(ShardInfo{File: FileName(5), Count: 1, Bytes: 1})
	if m.TotalCount != 30+5+10+1+1 || m.Shards[3].File != FileName(5) || m.Shards[4].File != FileName(10) {
		t.Fatalf("after Add: %+v", m)
	}
}

func TestManifestErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadManifest(dir); err == nil {
		t.Fatal("missing manifest: no error")
	}
	os.WriteFile(filepath.Join(dir, ManifestName), []byte("{not json"), 0o644)
	if _, err := ReadManifest(dir); err == nil {
		t.Fatal("corrupt manifest: no error")
	}
	os.WriteFile(filepath.Join(dir, ManifestName), []byte(`{"schema_version": 99}`), 0o644)
	if _, err := ReadManifest(dir); err == nil {
		t.Fatal("future schema version: no error")
	}
	// A corrupt shard makes BuildManifest fail with ErrCorrupt.
	os.WriteFile(filepath.Join(dir, FileName(0)), []byte("ARROW1 but not really"), 0o644)
	if _, err := BuildManifest(dir); err == nil {
		t.Fatal("corrupt shard: no error")
	}
}

func TestStatsNamesAndAtomicTemp(t *testing.T) {
	if n, ok := StatsIndex("dir/00042_stats.json"); !ok || n != 42 {
		t.Fatalf("StatsIndex = %d %v", n, ok)
	}
	for _, bad := range []string{"42_stats.json", "0004x_stats.json", "00042.json", "00042_stats.json.tmp-1"} {
		if _, ok := StatsIndex(bad); ok {
			t.Errorf("StatsIndex(%q) ok", bad)
		}
	}
	dir := t.TempDir()
	for _, name := range []string{"manifest.json.tmp-123", "00001_failed.jsonl.tmp-9", "00001.arrow.tmp-5", "keep.txt"} {
		os.WriteFile(filepath.Join(dir, name), nil, 0o644)
	}
	if err := CleanAtomicTemp(dir); err != nil {
		t.Fatal(err)
	}
	left, _ := os.ReadDir(dir)
	var names []string
	for _, e := range left {
		names = append(names, e.Name())
	}
	if !reflect.DeepEqual(names, []string{"00001.arrow.tmp-5", "keep.txt"}) {
		t.Fatalf("left %v", names)
	}
}

// BenchmarkWriteSamples measures shard writing with JPEG-sized (~30 KB, incompressible) images,
// including the fsync and rename of every committed file: "disk" in the test's temp dir (bound
// by the disk's fsync throughput), "shm" in /dev/shm (the writer's own CPU cost).
func BenchmarkWriteSamples(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	const nImages = 64
	images := make([][]byte, nImages)
	var total int64
	for i := range images {
		images[i] = make([]byte, 24<<10+rng.IntN(16<<10))
		for j := range images[i] {
			images[i][j] = byte(rng.Uint32())
		}
		total += int64(len(images[i]))
	}
	run := func(b *testing.B, dir string) {
		s := testSample(7)
		w, err := NewWriter(dir, SampleSchema, WriterOptions{RowsPerFile: 2000, BatchRows: 256, Metadata: SampleMetadata()})
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(total / nImages)
		b.ResetTimer()
		cpu0 := procstat.CPUTime()
		for i := 0; i < b.N; i++ {
			s.Image = images[i%nImages]
			s.Key = SampleKey(i/2000, i%2000)
			AppendSample(w.Builder(), s)
			if err := w.EndRow(); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
		// Throughput per second of CPU time: what one free core sustains on a shared machine.
		if cpu := procstat.CPUTime() - cpu0; cpu > 0 {
			b.ReportMetric(float64(total/nImages)*float64(b.N)/cpu.Seconds()/1e6, "MB/cpu-s")
		}
	}
	b.Run("disk", func(b *testing.B) { run(b, b.TempDir()) })
	b.Run("shm", func(b *testing.B) {
		dir, err := os.MkdirTemp("/dev/shm", "wit-bench-")
		if err != nil {
			b.Skip("no /dev/shm")
		}
		defer os.RemoveAll(dir)
		run(b, dir)
	})
}

// BenchmarkReadSamples streams shards from the page cache and touches every image.
func BenchmarkReadSamples(b *testing.B) {
	dir := b.TempDir()
	w, err := NewWriter(dir, SampleSchema, WriterOptions{RowsPerFile: 2000, BatchRows: 256})
	if err != nil {
		b.Fatal(err)
	}
	img := make([]byte, 32<<10)
	for i := range img {
		img[i] = byte(i * 7)
	}
	s := testSample(3)
	s.Image = img
	const rows = 4000
	for range rows {
		AppendSample(w.Builder(), s)
		if err := w.EndRow(); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	var size int64
	for _, c := range w.Committed() {
		size += c.Bytes
	}
	b.SetBytes(size)
	b.ResetTimer()
	cpu0 := procstat.CPUTime()
	defer func() {
		if cpu := procstat.CPUTime() - cpu0; cpu > 0 {
			b.ReportMetric(float64(size)*float64(b.N)/cpu.Seconds()/1e6, "MB/cpu-s")
		}
	}()
	for i := 0; i < b.N; i++ {
		var n int
		for rec, err := range ReadDir(context.Background(), dir, []string{ColKey, ColImage}) {
			if err != nil {
				b.Fatal(err)
			}
			cols, err := NewSampleColumns(rec)
			if err != nil {
				b.Fatal(err)
			}
			for r := range cols.Len() {
				n += len(cols.Image(r))
			}
		}
		if n != rows*len(img) {
			b.Fatalf("read %d image bytes", n)
		}
	}
}
