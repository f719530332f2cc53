package shards

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestInspectDir(t *testing.T) {
	ds := writeExpShards(t, t.TempDir(), expOptions{n: 25, perFile: 10, batch: 4})
	os.WriteFile(filepath.Join(ds.dir, "00003.arrow.tmp-1"), nil, 0o644)
	rep, err := Inspect(ds.dir, InspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Kind != KindSamples || rep.TotalRows != 25 || len(rep.Files) != 3 || len(rep.Samples) != 3 || rep.StatsFiles != 3 || !rep.HasSizes {
		t.Fatalf("report %+v", rep)
	}
	if rep.Files[2].Rows != 5 || rep.Files[2].Batches != 2 || rep.Files[2].RowsFrom != "stats" || rep.Files[0].Bytes != fileSize(filepath.Join(ds.dir, "00000.arrow")) {
		t.Fatalf("file info %+v", rep.Files[2])
	}
	if rep.Manifest == nil || rep.Manifest.TotalCount != 25 || rep.Metadata[MetaKind] != "samples" {
		t.Fatalf("manifest %+v metadata %v", rep.Manifest, rep.Metadata)
	}
	if len(rep.TempFiles) != 1 || len(rep.Schema) != SampleSchema.NumFields() || rep.Schema[1].Type != "binary" {
		t.Fatalf("temp %v schema %v", rep.TempFiles, rep.Schema)
	}
	row := rep.Samples[1]
	if row[0].Name != ColKey || row[0].Value != "000000001" || row[1].Value != "<"+itoa(len(ds.samples[1].Image))+" bytes, JPEG 24x16>" {
		t.Fatalf("preview %v", row)
	}
	var buf strings.Builder
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(rep); err != nil {
		t.Fatal(err)
	}
	data := []byte(buf.String())
	if !strings.Contains(string(data), `{"key":"000000000","image":"<`) || !utf8.Valid(data) {
		t.Fatalf("json %s", data)
	}

	// One file, a directory without metadata (rows counted), an unreadable file.
	rep, err = Inspect(filepath.Join(ds.dir, "00001.arrow"), InspectOptions{Rows: 1})
	if err != nil || rep.TotalRows != 10 || len(rep.Samples) != 1 || rep.Samples[0][0].Value != "000010000" {
		t.Fatalf("file: %+v %v", rep, err)
	}
	bare := writeExpShards(t, t.TempDir(), expOptions{n: 7, perFile: 5, noMeta: true})
	os.WriteFile(filepath.Join(bare.dir, "00002.arrow"), []byte("not arrow"), 0o644)
	rep, err = Inspect(bare.dir, InspectOptions{Rows: -1})
	if err != nil || rep.TotalRows != 7 || rep.Files[0].RowsFrom != "counted" || rep.Files[2].Error == "" || len(rep.Samples) != 0 || rep.Manifest != nil {
		t.Fatalf("bare: %+v %v", rep, err)
	}
	if _, err := Inspect(filepath.Join(bare.dir, "nope"), InspectOptions{}); err == nil {
		t.Fatal("missing path accepted")
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestComputeStats(t *testing.T) {
	ds := writeExpShards(t, t.TempDir(), expOptions{n: 25, perFile: 10, batch: 4})
	st, err := ComputeStats(context.Background(), ds.dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	var chars, imageBytes int
	for _, s := range ds.samples {
		chars += utf8.RuneCountInString(s.Caption)
		imageBytes += len(s.Image)
	}
	if st.Samples != 25 || st.Files != 3 || st.ImageBytes != int64(imageBytes) || math.Abs(st.MeanCaptionChars-float64(chars)/25) > 1e-9 || st.MeanCaptionWords != 9 {
		t.Fatalf("totals %+v", st)
	}
	counts := func(cs []Count) map[string]int64 {
		m := map[string]int64{}
		for _, c := range cs {
			m[c.Value] = c.Count
		}
		return m
	}
	eq := func(name string, got []Count, want map[string]int64) {
		t.Helper()
		g := counts(got)
		if len(g) != len(want) {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
		for k, v := range want {
			if g[k] != v {
				t.Errorf("%s[%s] = %d, want %d", name, k, g[k], v)
			}
		}
	}
	eq("sources", st.CaptionSources, map[string]int64{"alt": 9, "title": 8, "figcaption": 8})
	eq("languages", st.Languages, map[string]int64{"en": 19, "de": 6})
	eq("queries", st.TopQueries, map[string]int64{"bicycle": 19, "lake": 13, "red": 6})
	eq("sizes", st.ImageSizes, map[string]int64{"24x16": 25})
	eq("originals", st.OriginalSizes, map[string]int64{"<256": 0, "256-511": 10, "512-1023": 15, "1024-2047": 0, "2048-4095": 0, ">=4096": 0})
	if st.TopQueries[0].Value != "bicycle" || st.WithQuery != 19 || st.DistinctQueries != 3 || st.CaptionSources[0].Share != 9.0/25 {
		t.Fatalf("order/share %+v", st)
	}
	if st, err := ComputeStats(context.Background(), ds.dir, 1); err != nil || len(st.TopQueries) != 1 {
		t.Fatalf("top 1: %+v %v", st, err)
	}

	os.WriteFile(filepath.Join(ds.dir, "00001.arrow"), []byte("junk"), 0o644)
	if _, err := ComputeStats(context.Background(), ds.dir, 0); err == nil || !strings.Contains(err.Error(), "00001.arrow") {
		t.Fatalf("corrupt: %v", err)
	}
	if _, err := ComputeStats(context.Background(), t.TempDir(), 0); err == nil {
		t.Fatal("empty dir accepted")
	}
}

func TestComputeStatsPairs(t *testing.T) {
	dir := t.TempDir()
	w, err := NewWriter(dir, PairSchema, WriterOptions{RowsPerFile: 3})
	if err != nil {
		t.Fatal(err)
	}
	for i, lang := range []string{"en", "en", "fr", "", "en"} {
		AppendPair(w.Builder(), Pair{Caption: strings.Repeat("word ", i), CaptionSource: SourceOG, PageLang: lang})
		w.EndRow()
	}
	w.Close()
	st, err := ComputeStats(context.Background(), dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	if st.Kind != KindPairs || st.Samples != 5 || st.EmptyCaptions != 1 || st.MeanCaptionWords != 2 || st.Languages[0].Value != "en" || st.Languages[0].Count != 3 || st.ImageSizes != nil {
		t.Fatalf("pairs stats %+v", st)
	}
}

func BenchmarkComputeStats(b *testing.B) {
	dir, size := benchDataset(b)
	b.SetBytes(size)
	cpu := startCPU()
	for b.Loop() {
		if _, err := ComputeStats(context.Background(), dir, 20); err != nil {
			b.Fatal(err)
		}
	}
	cpu.report(b, size)
}
