package tokenizer

import (
	"context"
	"testing"

	"github.com/witdata/wit/shards"
)

// TestTrainShards covers the shim train/ still calls: the caption column of real shard files and
// maxCaptions.
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
