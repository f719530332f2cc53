package filter

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/witdata/wit/shards"
)

// TestDistributedStepsEqualRun runs the distributed steps in one process (map per file, dedup
// and counts per partition, the reduce, sampling per partition, the merge) and compares with Run
// in exact mode: same rows in the same order and files, same counts.
func TestDistributedStepsEqualRun(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "pairs")
	var pairs []shards.Pair
	for i := range 300 {
		p := testPairs[i%len(testPairs)]
		p.ImageURL = fmt.Sprintf("http://i/%d.jpg", i%153) // rows 153.. repeat earlier ones (153 = 17 × len(testPairs))
		pairs = append(pairs, p)
	}
	writePairsDir(t, in, pairs, 40)
	opts := Options{In: in, Stages: Stages{Text: DefaultTextRules(), Matcher: testMatcher(t)}, Threshold: 15, Seed: 9, RowsPerFile: 17}

	single := opts
	single.Out = filepath.Join(dir, "single")
	want, err := Run(context.Background(), single)
	if err != nil {
		t.Fatal(err)
	}

	files, err := shards.ListFiles(in)
	if err != nil {
		t.Fatal(err)
	}
	const parts = 3
	work := filepath.Join(dir, "work")
	var mapStats []*Stats
	for i, f := range files {
		o := opts
		o.In = f
		st, err := MapFile(context.Background(), o, i, parts, filepath.Join(work, "map", fmt.Sprint(i)))
		if err != nil {
			t.Fatal(err)
		}
		mapStats = append(mapStats, st)
	}
	var countFiles, sampled []string
	var dups, balanced int64
	for k := range parts {
		var inputs []string
		for i := range files {
			inputs = append(inputs, PartitionDir(filepath.Join(work, "map", fmt.Sprint(i)), k))
		}
		cf := filepath.Join(work, fmt.Sprintf("%d.counts", k))
		res, err := DedupPartition(context.Background(), opts, inputs, PartitionDir(filepath.Join(work, "dedup"), k), cf)
		if err != nil {
			t.Fatal(err)
		}
		dups += res.Duplicates
		countFiles = append(countFiles, cf)
	}
	counts, err := SumCounts(countFiles)
	if err != nil {
		t.Fatal(err)
	}
	for k := range parts {
		out := PartitionDir(filepath.Join(work, "sample"), k)
		n, err := SamplePartition(context.Background(), opts, counts, PartitionDir(filepath.Join(work, "dedup"), k), out)
		if err != nil {
			t.Fatal(err)
		}
		balanced += n
		sampled = append(sampled, out)
	}
	multi := opts
	multi.Out = filepath.Join(dir, "multi")
	got := MergeStats(multi, mapStats, dups, balanced)
	if err := MergeOutput(context.Background(), multi, sampled, got, counts, time.Now()); err != nil {
		t.Fatal(err)
	}

	if want.Dropped[ReasonDuplicate] == 0 || want.Dropped[ReasonBalance] == 0 {
		t.Fatalf("the test data has no duplicate or balance drops: %+v", want.Dropped)
	}
	if w, g := readOut(t, single.Out), readOut(t, multi.Out); !reflect.DeepEqual(w, g) {
		t.Fatalf("rows differ: run %d, distributed %d", len(w), len(g))
	}
	wf, _ := shards.ListFiles(single.Out)
	gf, _ := shards.ListFiles(multi.Out)
	if len(wf) != len(gf) {
		t.Errorf("files: run %d, distributed %d", len(wf), len(gf))
	}
	if want.Rows != got.Rows || want.Kept != got.Kept || !reflect.DeepEqual(want.Dropped, got.Dropped) ||
		!reflect.DeepEqual(want.Balance, got.Balance) || want.RepairedUTF8 != got.RepairedUTF8 {
		t.Errorf("stats differ:\nrun         %+v %+v\ndistributed %+v %+v", want, want.Balance, got, got.Balance)
	}
}

func TestCountsFiles(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	if err := WriteCounts(a, []int32{1, 0, 1<<31 - 2}); err != nil {
		t.Fatal(err)
	}
	if err := WriteCounts(b, []int32{2, 5, 10}); err != nil {
		t.Fatal(err)
	}
	sum, err := SumCounts([]string{a, b})
	if err != nil {
		t.Fatal(err)
	}
	if want := []int32{3, 5, 1<<31 - 1}; !reflect.DeepEqual(sum, want) {
		t.Errorf("sum %v, want %v (saturating)", sum, want)
	}
	if err := WriteCounts(b, []int32{1}); err != nil {
		t.Fatal(err)
	}
	if _, err := SumCounts([]string{a, b}); err == nil {
		t.Error("counts of different lengths added up")
	}
}
