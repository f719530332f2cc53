package tokenizer

import (
	"context"
	"sync"
	"testing"

	"github.com/witdata/wit/shards"
)

// TestTrainShards reads the caption column of real shard files (pair schema: the column name is the
// same in image shards) and honours maxCaptions.
func TestTrainShards(t *testing.T) {
	dir := t.TempDir()
	w, err := shards.NewWriter(dir, shards.PairSchema, shards.WriterOptions{RowsPerFile: 40, FirstIndex: 0})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		shards.AppendPair(w.Builder(), shards.Pair{PageURL: "p", ImageURL: "i", Caption: corpus[i%len(corpus)]})
		if err := w.EndRow(); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	c := NewCounter()
	if err := c.CountShards(context.Background(), dir, 0); err != nil {
		t.Fatal(err)
	}
	if c.Captions() != 100 {
		t.Fatalf("%d captions, want 100", c.Captions())
	}
	c2 := NewCounter()
	if err := c2.CountShards(context.Background(), dir, 55); err != nil || c2.Captions() != 55 {
		t.Fatalf("max 55: %d captions, %v", c2.Captions(), err)
	}
	tok, err := TrainShards(context.Background(), dir, 0, TrainOptions{VocabSize: 400})
	if err != nil {
		t.Fatal(err)
	}
	if tok.NumMerges() == 0 {
		t.Error("no merges")
	}
	if _, err := TrainShards(context.Background(), t.TempDir(), 0, TrainOptions{}); err == nil {
		t.Error("an empty folder trained")
	}
}

// TestConcurrentEncode: the encode cache is shared by loader workers.
func TestConcurrentEncode(t *testing.T) {
	tok := trained(t, 500)
	want := make([][]int32, len(corpus))
	for i, s := range corpus {
		want[i] = tok.Encode(s, 32)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for k := range 2000 {
				i := (k + g) % len(corpus)
				got := tok.Encode(corpus[i], 32)
				for j := range got {
					if got[j] != want[i][j] {
						t.Errorf("concurrent encode of %q differs", corpus[i])
						return
					}
				}
			}
		})
	}
	wg.Wait()
}
