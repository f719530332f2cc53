package train

import (
	"fmt"
	"runtime"

	"github.com/witdata/wit/inference"
	"github.com/witdata/wit/model"
)

// Options configures a training run. Zero values take the preset's suggestion (model.Hyper) or the
// defaults named on each field; see Options.WithDefaults.
type Options struct {
	Shards    string `json:"shards"`     // image shard folder (columns "image" and "caption")
	Out       string `json:"out"`        // run folder
	Tokenizer string `json:"tokenizer"`  // tok.json; "" trains one from the shards' captions
	BatchSize int    `json:"batch_size"` // pairs per optimizer step (split into Accum micro-batches)
	Steps     int64  `json:"steps"`      // optimizer steps in total (a resumed run continues up to it)

	LR          float64 `json:"lr"`           // peak learning rate
	MinLR       float64 `json:"min_lr"`       // learning rate at the end of the cosine
	Warmup      int64   `json:"warmup"`       // linear warmup steps
	WeightDecay float64 `json:"weight_decay"` // AdamW decay on weight matrices (0: the preset's; < 0: none)
	Beta1       float64 `json:"beta1"`
	Beta2       float64 `json:"beta2"`
	Epsilon     float64 `json:"epsilon"`

	Accum           int    `json:"accum"`            // micro-batches per step, gradients summed (default 1)
	CheckpointEvery int64  `json:"checkpoint_every"` // steps between checkpoints (default 500)
	Keep            int    `json:"keep"`             // checkpoints kept (default 3; ≤ 0 after defaults: all)
	LogEvery        int64  `json:"log_every"`        // steps between metrics.jsonl lines (default 10)
	Seed            uint64 `json:"seed"`             // weights init, shuffle and crops (default 1)

	CropScaleMin float64 `json:"crop_scale_min,omitempty"` // random resized crop's smallest area fraction (default 0.9, OpenCLIP's)
	ColorJitter  float64 `json:"color_jitter,omitempty"`   // brightness/contrast/saturation jitter strength, 0–1 (default 0: none)
	GrayScale    float64 `json:"grayscale,omitempty"`      // probability of a greyscale training image (default 0)
	Hue          float64 `json:"hue,omitempty"`            // hue jitter, a shift in [-Hue, Hue] of a turn, 0–0.5 (default 0: none)
	ZoomOutProb  float64 `json:"zoom_out_prob,omitempty"`  // probability of zooming a training image out (default 0)
	ZoomOutMin   float64 `json:"zoom_out_min,omitempty"`   // zoom-out's smallest side fraction (default 0.5)
	OutlineProb  float64 `json:"outline_prob,omitempty"`   // probability of drawing contours over a training image (default 0)

	ShuffleBuffer int   `json:"shuffle_buffer"` // samples in the loader's shuffle buffer (default 2048)
	Workers       int   `json:"workers"`        // JPEG decode goroutines (default NumCPU)
	Prefetch      int   `json:"prefetch"`       // ready batches queued ahead of the model (default 2)
	VocabSize     int   `json:"vocab_size"`     // for a tokenizer trained on the fly (default: the model's)
	TokCaptions   int64 `json:"tok_captions"`   // captions to train it on (default 200000; ≤ 0 all)
	MaxPixels     int64 `json:"max_pixels"`     // larger images are skipped as corrupt (default 40 MP)
	NoProgress    bool  `json:"-"`              // no progress bar (tests, logs to files)
}

// WithDefaults fills zero fields from the preset's hyperparameters and the package defaults.
func (o Options) WithDefaults(h model.Hyper, cfg model.Config) Options {
	setI := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	setI64 := func(v *int64, d int64) {
		if *v == 0 {
			*v = d
		}
	}
	setF := func(v *float64, d float64) {
		if *v == 0 {
			*v = d
		}
	}
	setI(&o.BatchSize, h.BatchSize)
	setI(&o.BatchSize, 64)
	setI64(&o.Steps, h.Steps)
	setI64(&o.Steps, 1000)
	setF(&o.LR, h.LearningRate)
	setF(&o.LR, 5e-4)
	setF(&o.MinLR, h.MinLR)
	setI64(&o.Warmup, h.WarmupSteps)
	o.Warmup = min(o.Warmup, o.Steps)
	setF(&o.WeightDecay, h.WeightDecay)
	if o.WeightDecay < 0 { // explicit "none"
		o.WeightDecay = 0
	}
	setF(&o.Beta1, h.Beta1)
	setF(&o.Beta1, 0.9)
	setF(&o.Beta2, h.Beta2)
	setF(&o.Beta2, 0.98)
	setF(&o.Epsilon, h.Epsilon)
	setF(&o.Epsilon, 1e-6)
	setI(&o.Accum, 1)
	setI64(&o.CheckpointEvery, 500)
	setI(&o.Keep, 3)
	setI64(&o.LogEvery, 10)
	if o.Seed == 0 {
		o.Seed = 1
	}
	setF(&o.CropScaleMin, CropScaleMin)
	setF(&o.ZoomOutMin, ZoomOutMin)
	setI(&o.ShuffleBuffer, 2048)
	setI(&o.Workers, runtime.NumCPU())
	setI(&o.Prefetch, 2)
	setI(&o.VocabSize, cfg.VocabSize)
	setI64(&o.TokCaptions, 200_000)
	setI64(&o.MaxPixels, inference.DefaultMaxPixels)
	return o
}

// Validate reports inconsistent options (after WithDefaults).
func (o Options) Validate(cfg model.Config) error {
	switch {
	case o.BatchSize < 2:
		return fmt.Errorf("batch size %d: a contrastive batch needs at least 2 pairs", o.BatchSize)
	case o.Accum < 1 || o.BatchSize%o.Accum != 0 || o.BatchSize/o.Accum < 2:
		return fmt.Errorf("accum %d must divide batch size %d into micro-batches of at least 2", o.Accum, o.BatchSize)
	case o.Steps <= 0:
		return fmt.Errorf("steps %d must be > 0", o.Steps)
	case o.LR <= 0 || o.MinLR < 0 || o.MinLR > o.LR:
		return fmt.Errorf("learning rates: peak %g, min %g", o.LR, o.MinLR)
	case o.Warmup < 0:
		return fmt.Errorf("warmup %d < 0", o.Warmup)
	case o.CheckpointEvery <= 0 || o.LogEvery <= 0:
		return fmt.Errorf("checkpoint-every %d and log-every %d must be > 0", o.CheckpointEvery, o.LogEvery)
	case o.CropScaleMin <= 0 || o.CropScaleMin > 1:
		return fmt.Errorf("crop scale min %g must be in (0, 1]", o.CropScaleMin)
	case o.jitter().Validate() != nil:
		return o.jitter().Validate()
	case (Outline{Prob: o.OutlineProb}).Validate() != nil:
		return (Outline{Prob: o.OutlineProb}).Validate()
	case o.zoomOut().Validate() != nil:
		return o.zoomOut().Validate()
	case o.VocabSize > cfg.VocabSize:
		return fmt.Errorf("tokenizer vocabulary %d exceeds the model's %d", o.VocabSize, cfg.VocabSize)
	}
	return nil
}

func (o Options) zoomOut() ZoomOut { return ZoomOut{Prob: o.ZoomOutProb, Min: o.ZoomOutMin} }

// MicroBatch is the number of pairs per forward/backward pass.
func (o Options) MicroBatch() int { return o.BatchSize / o.Accum }

// Hyper returns the options as a preset's train section (written into checkpoints' config.yaml).
func (o Options) Hyper() model.Hyper {
	return model.Hyper{
		BatchSize: o.BatchSize, LearningRate: o.LR, MinLR: o.MinLR, WarmupSteps: o.Warmup, Steps: o.Steps,
		WeightDecay: o.WeightDecay, Beta1: o.Beta1, Beta2: o.Beta2, Epsilon: o.Epsilon,
	}
}

// jitter is the colour augmentation the options ask for.
func (o Options) jitter() Jitter {
	return Jitter{Strength: o.ColorJitter, Hue: o.Hue, Gray: o.GrayScale}
}
