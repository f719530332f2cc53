package model

import (
	"bytes"
	"errors"
	"fmt"
	"os"

	"gopkg.in/yaml.v3"
)

// Config holds CLIP's architecture hyperparameters, named as in OpenAI's model.py CLIP.__init__.
type Config struct {
	Name string `yaml:"name"`

	EmbedDim int `yaml:"embed_dim"` // joint embedding size (image and text projections)

	// Vision Transformer.
	ImageResolution int `yaml:"image_resolution"`  // input images are square, this many pixels a side
	VisionLayers    int `yaml:"vision_layers"`     // residual attention blocks
	VisionWidth     int `yaml:"vision_width"`      // token width
	VisionPatchSize int `yaml:"vision_patch_size"` // patches are VisionPatchSize² pixels
	// VisionHeads defaults to VisionWidth/64 as in OpenAI's model.py.
	VisionHeads int `yaml:"vision_heads,omitempty"`
	// VisionStem turns pixels into tokens: "patch" (OpenAI's patch embedding, the default) or
	// "conv" (3×3 stride-2 convolutions, Xiao et al. 2021; VisionPatchSize must be a power of 2).
	VisionStem string `yaml:"vision_stem,omitempty"`

	// Text Transformer.
	ContextLength     int `yaml:"context_length"` // tokens per caption, including start and end
	VocabSize         int `yaml:"vocab_size"`
	TransformerWidth  int `yaml:"transformer_width"`
	TransformerHeads  int `yaml:"transformer_heads"`
	TransformerLayers int `yaml:"transformer_layers"`

	// Activation of the MLPs: "quick_gelu" (x·σ(1.702x), what OpenAI's released models use and the
	// default) or "gelu" (exact, erf-based; what OpenCLIP uses for models trained from scratch).
	Activation string `yaml:"activation,omitempty"`
}

// Hyper holds the training hyperparameters a preset suggests (the trainer may override them).
type Hyper struct {
	BatchSize    int     `yaml:"batch_size"`
	LearningRate float64 `yaml:"learning_rate"`
	MinLR        float64 `yaml:"min_learning_rate"`
	WarmupSteps  int64   `yaml:"warmup_steps"`
	Steps        int64   `yaml:"steps"`
	WeightDecay  float64 `yaml:"weight_decay"`
	Beta1        float64 `yaml:"beta1"`
	Beta2        float64 `yaml:"beta2"`
	Epsilon      float64 `yaml:"epsilon"`
}

// File is the layout of a configs/*.yaml preset: the model, and suggested training hyperparameters.
type File struct {
	Model Config `yaml:"model"`
	Train Hyper  `yaml:"train"`
}

// Activation names.
const (
	QuickGELU = "quick_gelu"
	GELU      = "gelu"
)

// LoadFile reads and validates a preset (configs/*.yaml).
func LoadFile(path string) (File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return File{}, fmt.Errorf("load model config: %w", err)
	}
	f, err := ParseFile(data)
	if err != nil {
		return File{}, fmt.Errorf("model config %s: %w", path, err)
	}
	return f, nil
}

// LoadConfig reads the model section of a preset.
func LoadConfig(path string) (Config, error) {
	f, err := LoadFile(path)
	return f.Model, err
}

// ParseFile decodes a preset strictly (unknown keys are errors: a typo must not silently fall back to
// a default) and validates the model.
func ParseFile(data []byte) (File, error) {
	var f File
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return File{}, fmt.Errorf("decode yaml: %w", err)
	}
	f.Model = f.Model.WithDefaults()
	if err := f.Model.Validate(); err != nil {
		return File{}, err
	}
	return f, nil
}

// WithDefaults fills VisionHeads (VisionWidth/64, at least 1), VisionStem (patch) and Activation
// (quick_gelu).
func (c Config) WithDefaults() Config {
	if c.VisionHeads == 0 {
		c.VisionHeads = max(c.VisionWidth/64, 1)
	}
	if c.Activation == "" {
		c.Activation = QuickGELU
	}
	if c.VisionStem == "" {
		c.VisionStem = StemPatch
	}
	return c
}

// Validate reports the first inconsistency in the architecture.
func (c Config) Validate() error {
	var errs []error
	pos := func(name string, v int) {
		if v <= 0 {
			errs = append(errs, fmt.Errorf("%s must be > 0, got %d", name, v))
		}
	}
	pos("embed_dim", c.EmbedDim)
	pos("image_resolution", c.ImageResolution)
	pos("vision_layers", c.VisionLayers)
	pos("vision_width", c.VisionWidth)
	pos("vision_patch_size", c.VisionPatchSize)
	pos("vision_heads", c.VisionHeads)
	pos("context_length", c.ContextLength)
	pos("vocab_size", c.VocabSize)
	pos("transformer_width", c.TransformerWidth)
	pos("transformer_heads", c.TransformerHeads)
	pos("transformer_layers", c.TransformerLayers)
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if c.ImageResolution%c.VisionPatchSize != 0 {
		errs = append(errs, fmt.Errorf("image_resolution %d not a multiple of vision_patch_size %d", c.ImageResolution, c.VisionPatchSize))
	}
	if c.VisionWidth%c.VisionHeads != 0 {
		errs = append(errs, fmt.Errorf("vision_width %d not divisible by vision_heads %d", c.VisionWidth, c.VisionHeads))
	}
	if c.TransformerWidth%c.TransformerHeads != 0 {
		errs = append(errs, fmt.Errorf("transformer_width %d not divisible by transformer_heads %d", c.TransformerWidth, c.TransformerHeads))
	}
	switch c.VisionStem {
	case StemPatch, "":
	case StemConv:
		if p := c.VisionPatchSize; p < 2 || p&(p-1) != 0 {
			errs = append(errs, fmt.Errorf("vision_stem conv needs a power-of-2 vision_patch_size, got %d", p))
		}
	default:
		errs = append(errs, fmt.Errorf("vision_stem %q: want %q or %q", c.VisionStem, StemPatch, StemConv))
	}

	if c.Activation != QuickGELU && c.Activation != GELU {
		errs = append(errs, fmt.Errorf("activation %q: want %q or %q", c.Activation, QuickGELU, GELU))
	}
	return errors.Join(errs...)
}

// NumPatches is the number of image patches (tokens before the class token).
func (c Config) NumPatches() int {
	g := c.ImageResolution / c.VisionPatchSize
	return g * g
}

// ParameterCount is the number of trainable parameters, computed from the architecture alone (the
// layout of OpenAI's model.py; ViT-B/32 gives 151,277,313).
func (c Config) ParameterCount() int64 {
	c = c.WithDefaults()
	block := func(w int64) int64 {
		// ln_1, ln_2: 2·2w; attention q,k,v,out: 4(w²+w); MLP: w·4w+4w + 4w·w+w.
		return 4*w + 4*(w*w+w) + (4*w*w + 4*w) + (4*w*w + w)
	}
	vw, tw, e := int64(c.VisionWidth), int64(c.TransformerWidth), int64(c.EmbedDim)
	vision := c.stemParameters() +
		vw + // class_embedding
		int64(c.NumPatches()+1)*vw + // positional_embedding
		2*vw + // ln_pre
		int64(c.VisionLayers)*block(vw) +
		2*vw + // ln_post
		vw*e // proj
	text := int64(c.VocabSize)*tw + // token_embedding
		int64(c.ContextLength)*tw + // positional_embedding
		int64(c.TransformerLayers)*block(tw) +
		2*tw + // ln_final
		tw*e // text_projection
	return vision + text + 1 // + logit_scale
}

// ForwardFLOPs counts the floating-point operations (2 per multiply-add) of the matrix products in a
// forward pass over batch image–caption pairs: patch embedding, attention projections and MLPs
// (24·W² per token per layer), attention itself (4·T²·W per layer), projections and the logits.
// Element-wise work (norms, activations, softmax) is left out, so achieved GFLOP/s is a lower bound.
func (c Config) ForwardFLOPs(batch int) int64 {
	c = c.WithDefaults()
	tower := func(tokens, width, layers int64) int64 {
		return layers * (tokens*24*width*width + 4*tokens*tokens*width)
	}
	vw, tw, e := int64(c.VisionWidth), int64(c.TransformerWidth), int64(c.EmbedDim)
	n := int64(c.NumPatches())
	perPair := c.stemFLOPs() + tower(n+1, vw, int64(c.VisionLayers)) + 2*vw*e +
		tower(int64(c.ContextLength), tw, int64(c.TransformerLayers)) + 2*tw*e
	b := int64(batch)
	return b*perPair + 2*b*b*e
}

// stemParameters counts the stem's parameters: the patch embedding [3P², W] (no bias), or the conv
// stem's 3×3 kernels, their norms and the 1×1 projection with its bias.
func (c Config) stemParameters() int64 {
	p, w := int64(c.VisionPatchSize), int64(c.VisionWidth)
	if c.VisionStem != StemConv {
		return 3 * p * p * w
	}
	var n, in int64 = 0, 3
	for _, out := range convStemChannels(c.VisionPatchSize, c.VisionWidth) {
		n += 9*in*int64(out) + 2*int64(out)
		in = int64(out)
	}
	return n + in*w + w
}

// stemFLOPs counts the stem's matrix-product FLOPs for one image (the conv stem's convolutions and
// projection; the row and column selection that lays out its patches is data movement and left out).
func (c Config) stemFLOPs() int64 {
	p, w := int64(c.VisionPatchSize), int64(c.VisionWidth)
	if c.VisionStem != StemConv {
		return 2 * int64(c.NumPatches()) * 3 * p * p * w
	}
	var flops, in int64 = 0, 3
	side := int64(c.ImageResolution)
	for _, out := range convStemChannels(c.VisionPatchSize, c.VisionWidth) {
		side = (side-1)/2 + 1
		flops += 2 * side * side * 9 * in * int64(out)
		in = int64(out)
	}
	return flops + 2*side*side*in*w
}

// TrainFLOPs approximates one training step as three forward passes (the backward pass costs two).
func (c Config) TrainFLOPs(batch int) int64 { return 3 * c.ForwardFLOPs(batch) }

// ParameterCount is Config.ParameterCount as a function.
func ParameterCount(cfg Config) int64 { return cfg.ParameterCount() }
