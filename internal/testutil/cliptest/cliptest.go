// Package cliptest holds the tiny CLIP set-up that the model-using packages' tests share (inference,
// train). Only _test.go files import it. It lives apart from internal/testutil so that tests
// which need no model do not build one.
package cliptest

import (
	"testing"

	"github.com/witdata/wit/model"
	"github.com/witdata/wit/tokenizer"
)

// TinyConfig is a CLIP small enough for tests on 2 cores.
func TinyConfig(vocab int) model.Config {
	return model.Config{
		Name: "test-tiny", EmbedDim: 32, ImageResolution: 16, VisionLayers: 1, VisionWidth: 32, VisionPatchSize: 4,
		VisionHeads: 2, ContextLength: 8, VocabSize: vocab, TransformerWidth: 32, TransformerHeads: 2, TransformerLayers: 1,
	}.WithDefaults()
}

// Tokenizer is a 300-id BPE tokenizer trained on a test's captions.
func Tokenizer(tb testing.TB, captions []string) *tokenizer.Tokenizer {
	tb.Helper()
	tok, err := tokenizer.Train(captions, tokenizer.TrainOptions{VocabSize: 300})
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}
