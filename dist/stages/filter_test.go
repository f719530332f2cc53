package stages

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/witdata/wit/dist/disttest"
	"github.com/witdata/wit/filter"
	"github.com/witdata/wit/internal/storage"
	"github.com/witdata/wit/shards"
)

// writePairFiles writes files pair files of rows each: captions naming one or two of a few
// query entries (a head entry matched far more than the threshold), some rows repeated across
// files (duplicates), some captions junk.
func writePairFiles(t *testing.T, dir string, files, rows int) {
	t.Helper()
	w, err := shards.NewWriter(dir, shards.PairSchema, shards.WriterOptions{RowsPerFile: rows})
	if err != nil {
		t.Fatal(err)
	}
	words := []string{"dog", "cat", "red car", "old tree", "dog", "dog", "blue house", "dog"}
	for i := range files * rows {
		var caption string
		switch {
		case i%11 == 3:
			caption = "IMG_1234.JPG" // junk
		case i%13 == 5:
			caption = "a picture without any entry in it"
		default:
			caption = fmt.Sprintf("a photo of a %s next to the %s", words[i%len(words)], words[(i/3)%len(words)])
		}
		n := i
		if i%17 == 9 {
			n = i / 4 // the same pair as an earlier row: a duplicate
			caption = fmt.Sprintf("a photo of a %s next to the %s", words[n%len(words)], words[(n/3)%len(words)])
		}
		shards.AppendPair(w.Builder(), shards.Pair{PageURL: fmt.Sprintf("https://example.org/p/%d", n/5),
			ImageURL: fmt.Sprintf("https://example.org/img/%d.jpg", n), Caption: caption, CaptionSource: "alt",
			PageLang: "en", FetchedAt: time.Unix(1700000000, 0).UTC()})
		if err := w.EndRow(); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// readRows reads every row of every file of dir, in order, as strings, and the file count.
func readRows(t *testing.T, dir string) ([]string, int) {
	t.Helper()
	files, err := shards.ListFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range files {
		for rec, err := range shards.ReadFile(f, nil) {
			if err != nil {
				t.Fatal(err)
			}
			for i := range int(rec.NumRows()) {
				var cells []string
				for c := range int(rec.NumCols()) {
					cells = append(cells, rec.Schema().Field(c).Name+"="+rec.Column(c).ValueStr(i))
				}
				out = append(out, strings.Join(cells, " | "))
			}
		}
	}
	return out, len(files)
}

func readFilterStats(t *testing.T, dir string) filter.Stats {
	t.Helper()
	data := readLoc(t, storage.Join(dir, filter.StatsFile))
	var st filter.Stats
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// TestDistributedFilterEqualsExact: the filter run as three distributed steps (per-file stages,
// per-partition dedup and counts, one reduce, per-partition sampling) writes the same rows, in
// the same files, with the same counts, as `wit filter --mode exact`, on a shared path and with
// its input, output and work folder in an S3 bucket (left with the input and the output only).
func TestDistributedFilterEqualsExact(t *testing.T) {
	for _, kind := range storageKinds {
		t.Run(kind, func(t *testing.T) { testDistributedFilterEqualsExact(t, kind) })
	}
}

func testDistributedFilterEqualsExact(t *testing.T, kind string) {
	ts := newTestStorage(t, kind)
	dir := t.TempDir()
	in := filepath.Join(dir, "pairs")
	writePairFiles(t, in, 4, 60)
	queries := filepath.Join(dir, "queries.txt")
	if err := os.WriteFile(queries, []byte("dog\ncat\nred car\nold tree\nblue house\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	set := filter.DefaultStageOptions()
	set.Queries = queries
	set.NoLanguage = true
	opts := filter.Options{In: in, Threshold: 12, Seed: 7, Mode: filter.ModeExact, RowsPerFile: 25}

	single := opts
	single.Out = filepath.Join(dir, "single")
	st, err := set.Stages(nil)
	if err != nil {
		t.Fatal(err)
	}
	single.Stages = st
	if _, err := filter.Run(context.Background(), single); err != nil {
		t.Fatal(err)
	}

	srv := disttest.StartServer(t, t.TempDir(), 0)
	c := disttest.Connect(t, srv.ClientURL())
	multi := opts
	multi.Out = ts.loc("multi")
	if kind == "s3" {
		multi.In = ts.loc("pairs")
		writePairFiles(t, multi.In, 4, 60)
	}
	job, err := SubmitFilter(context.Background(), c, multi, set, 3)
	if err != nil {
		t.Fatal(err)
	}
	disttest.StartWorkers(t, srv.ClientURL(), 2, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	p, err := c.WaitChain(ctx, job.ID, 100*time.Millisecond, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p.Final == nil || p.Final.State != "done" || p.Job.Kind != KindFilterSample {
		t.Fatalf("last job %s final %+v", p.Job.Kind, p.Final)
	}

	want, wantFiles := readRows(t, single.Out)
	got, gotFiles := readRows(t, multi.Out)
	if len(want) == 0 || len(want) >= 4*60 {
		t.Fatalf("single-machine filter kept %d of %d rows: the test data does not exercise the filter", len(want), 4*60)
	}
	if wantFiles != gotFiles || !reflect.DeepEqual(want, got) {
		t.Fatalf("distributed output (%d rows, %d files) differs from single-machine exact (%d rows, %d files)", len(got), gotFiles, len(want), wantFiles)
	}
	ss, sm := readFilterStats(t, single.Out), readFilterStats(t, multi.Out)
	if ss.Dropped[filter.ReasonBalance] == 0 || ss.Dropped[filter.ReasonDuplicate] == 0 {
		t.Fatalf("the test data has no balance or duplicate drops: %+v", ss.Dropped)
	}
	if ss.Rows != sm.Rows || ss.Kept != sm.Kept || !reflect.DeepEqual(ss.Dropped, sm.Dropped) || !reflect.DeepEqual(ss.Balance, sm.Balance) {
		t.Errorf("stats differ:\nsingle      %+v %+v\ndistributed %+v %+v", ss, ss.Balance, sm, sm.Balance)
	}
	if _, err := storage.Stat(context.Background(), ts.loc(".multi.dist")); !storage.IsNotExist(err) {
		t.Errorf("work directory left behind: %v", err)
	}
	stray := ts.strayKeys(t, func(k string) bool {
		isArrow := func(name string) bool { _, ok := shards.FileIndex(name); return ok }
		return keyIn(k, "pairs", topLevel(isArrow)) ||
			keyIn(k, "multi", topLevel(func(name string) bool { return isArrow(name) || name == filter.StatsFile }))
	})
	if len(stray) > 0 {
		t.Errorf("left in the bucket: %v", stray)
	}
}
