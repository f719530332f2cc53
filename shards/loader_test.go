package shards

import (
	"context"
	"fmt"
	"slices"
	"testing"
)

// writeNumbered writes n pair rows whose caption is "row <i>" into files of perFile rows.
func writeNumbered(t testing.TB, n, perFile int) string {
	dir := t.TempDir()
	w, err := NewWriter(dir, PairSchema, WriterOptions{RowsPerFile: perFile, BatchRows: 7})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		p := testPair(i)
		p.Caption = fmt.Sprintf("row %d", i)
		AppendPair(w.Builder(), p)
		if err := w.EndRow(); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

func stream(t *testing.T, l *Loader, from Position, limit int) ([]string, Position) {
	t.Helper()
	var got []string
	var pos Position
	for row, err := range l.Samples(context.Background(), from) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, row.Values[0].(string))
		pos = row.Pos
		if limit > 0 && len(got) == limit {
			break
		}
	}
	return got, pos
}

func TestLoaderOrderAndCoverage(t *testing.T) {
	dir := writeNumbered(t, 95, 20)
	tests := []struct {
		name string
		opts LoaderOptions
	}{
		{"sequential", LoaderOptions{}},
		{"shard shuffle", LoaderOptions{ShuffleShards: true, Seed: 1}},
		{"buffer shuffle", LoaderOptions{ShuffleBuffer: 16, Seed: 2}},
		{"both", LoaderOptions{ShuffleShards: true, ShuffleBuffer: 50, Seed: 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Columns = []string{ColCaption}
			l, err := NewLoader(dir, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := stream(t, l, Position{}, 0)
			if len(got) != 95 || l.EpochSize() != 95 {
				t.Fatalf("got %d rows, epoch size %d", len(got), l.EpochSize())
			}
			sorted := slices.Clone(got)
			slices.Sort(sorted)
			if len(slices.Compact(sorted)) != 95 {
				t.Fatal("duplicates in one epoch")
			}
			again, _ := stream(t, l, Position{}, 0)
			if !slices.Equal(got, again) {
				t.Fatal("same seed gave another order")
			}
			shuffled := tt.opts.ShuffleShards || tt.opts.ShuffleBuffer > 1
			if inOrder := got[0] == "row 0" && got[50] == "row 50"; inOrder == shuffled {
				t.Fatalf("shuffled=%v but first rows %v", shuffled, got[:5])
			}
		})
	}
}

func TestLoaderResumeIsExact(t *testing.T) {
	dir := writeNumbered(t, 120, 25)
	opts := LoaderOptions{Columns: []string{ColCaption}, ShuffleShards: true, ShuffleBuffer: 30, Seed: 9, Epochs: 2}
	l, err := NewLoader(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	full, _ := stream(t, l, Position{}, 0)
	if len(full) != 240 {
		t.Fatalf("two epochs = %d rows", len(full))
	}
	if slices.Equal(full[:120], full[120:]) {
		t.Fatal("epochs have the same order")
	}
	for _, cut := range []int{1, 29, 30, 31, 77, 119, 120, 121, 200} {
		head, pos := stream(t, l, Position{}, cut)
		tail, _ := stream(t, l, pos, 0)
		if got := append(head, tail...); !slices.Equal(got, full) {
			t.Fatalf("cut at %d (pos %+v): resumed stream differs", cut, pos)
		}
	}
}

func TestLoaderWorkersPartition(t *testing.T) {
	dir := writeNumbered(t, 100, 10)
	seen := map[string]int{}
	for w := range 3 {
		l, err := NewLoader(dir, LoaderOptions{Columns: []string{ColCaption}, ShuffleShards: true, Seed: 4, WorkerIndex: w, NumWorkers: 3})
		if err != nil {
			t.Fatal(err)
		}
		got, _ := stream(t, l, Position{}, 0)
		for _, g := range got {
			seen[g]++
		}
	}
	if len(seen) != 100 {
		t.Fatalf("workers covered %d of 100 rows", len(seen))
	}
	for k, n := range seen {
		if n != 1 {
			t.Fatalf("%s read %d times", k, n)
		}
	}
	if _, err := NewLoader(dir, LoaderOptions{WorkerIndex: 3, NumWorkers: 3}); err == nil {
		t.Fatal("out-of-range worker accepted")
	}
}

func BenchmarkLoaderRead(b *testing.B) {
	dir := writeNumbered(b, 20000, 5000)
	l, err := NewLoader(dir, LoaderOptions{Columns: []string{ColCaption, ColImageURL}, ShuffleBuffer: 5000, ShuffleShards: true})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	n := 0
	for b.Loop() {
		for _, err := range l.Samples(context.Background(), Position{}) {
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "samples/s")
}
