package tokenizer

import (
	"context"
	"fmt"

	"github.com/witdata/wit/shards"
)

// TrainShards learns a tokenizer from the captions of the shards in dir (all of them when
// maxCaptions ≤ 0).
//
// Deprecated: the package's last tie to shards, kept only for train/ until it builds the caption
// sequence itself (shards.Captions, then Counter.AddAll and Counter.Train, as cmd/wit's
// "tokenizer train" does). Delete this file then.
func TrainShards(ctx context.Context, dir string, maxCaptions int64, opts TrainOptions) (*Tokenizer, error) {
	captions, readErr := shards.Captions(ctx, dir)
	c := NewCounter()
	c.AddAll(captions, maxCaptions)
	if err := readErr(); err != nil {
		return nil, err
	}
	t, err := c.Train(opts)
	if err != nil {
		return nil, fmt.Errorf("train tokenizer on %s: %w", dir, err)
	}
	return t, nil
}
