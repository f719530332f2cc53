package filter

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/witdata/wit/internal/storage"
	"github.com/witdata/wit/internal/storage/s3test"
)

// TestRunObjectStorage filters a gzipped CSV in the in-process S3 server into a folder there,
// with exact balancing (whose staging pass stays on local disk): the output equals the one
// written to local disk from the same input, and holds no incomplete marker. A failing run
// leaves nothing behind.
func TestRunObjectStorage(t *testing.T) {
	ctx := context.Background()
	_, bucket := s3test.Start(t, "wit")
	var rows [][2]string
	for i := range 600 {
		rows = append(rows, [2]string{fmt.Sprintf("http://i/d%d.jpg", i), fmt.Sprintf("A happy dog number %d", i)})
	}
	for i := range 30 {
		rows = append(rows, [2]string{fmt.Sprintf("http://i/c%d.jpg", i), fmt.Sprintf("A sleepy cat number %d", i)})
	}
	localIn := filepath.Join(t.TempDir(), "pairs.csv.gz")
	writeCSVGz(t, localIn, rows)
	data, err := storage.ReadFile(ctx, localIn)
	if err != nil {
		t.Fatal(err)
	}
	in := storage.Join(bucket, "in/pairs.csv.gz")
	if err := storage.WriteFile(ctx, in, data); err != nil {
		t.Fatal(err)
	}
	run := func(in, out string) ([]outRow, *Stats) {
		st, err := Run(ctx, Options{In: in, Out: out, Threshold: 50, Seed: 1, Mode: ModeExact, RowsPerFile: 40,
			Stages: Stages{Text: DefaultTextRules(), Matcher: testMatcher(t)}})
		if err != nil {
			t.Fatal(err)
		}
		return readOut(t, out), st
	}
	out := storage.Join(bucket, "filtered")
	remote, rst := run(in, out)
	local, lst := run(localIn, filepath.Join(t.TempDir(), "out"))
	if len(remote) == 0 || len(remote) != len(local) || rst.Kept != lst.Kept {
		t.Fatalf("s3 output %d rows (kept %d), local %d (kept %d)", len(remote), rst.Kept, len(local), lst.Kept)
	}
	for i := range remote {
		if remote[i].url != local[i].url {
			t.Fatalf("row %d: %s on s3, %s locally", i, remote[i].url, local[i].url)
		}
	}
	d, _ := storage.Open(ctx, out)
	entries, _ := d.List(ctx, "")
	var names []string
	for _, e := range entries {
		names = append(names, e.Name)
	}
	if slices.Contains(names, storage.IncompleteMarker) || !slices.Contains(names, StatsFile) {
		t.Fatalf("output holds %v", names)
	}
	// Into a non-empty folder: refused, nothing touched.
	if _, err := Run(ctx, Options{In: in, Out: out, Stages: Stages{Text: DefaultTextRules()}}); err == nil {
		t.Fatal("non-empty output accepted")
	}
	// A run that fails after writing (the input has no caption column) leaves nothing.
	bad := storage.Join(bucket, "bad")
	if _, err := Run(ctx, Options{In: in, Out: bad, CaptionCol: "nope", Stages: Stages{Text: DefaultTextRules()}}); err == nil {
		t.Fatal("missing caption column accepted")
	}
	bd, _ := storage.Open(ctx, bad)
	if left, _ := bd.List(ctx, ""); len(left) != 0 {
		t.Fatalf("failed run left %v", left)
	}
}
