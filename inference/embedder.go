package inference

import (
	"fmt"
	"image"
	"math"
	"runtime"
	"strings"
	"sync"

	"github.com/gomlx/gomlx/backends"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/witdata/wit/checkpoint"
	"github.com/witdata/wit/internal/gomlxfix"
	"github.com/witdata/wit/model"
	"github.com/witdata/wit/tokenizer"
)

// DefaultEmbedBatch is the batch the Embedder's graphs are compiled for; shorter batches are padded
// so one compiled graph serves every call.
const DefaultEmbedBatch = 64

// Embedder runs a checkpoint's image and text towers for evaluation, `wit embed` and `wit score`.
// Preprocessing is CLIP's evaluation transform: the central square, resized (antialiased) to the
// model's resolution, normalised with CLIP's mean/std; texts are tokenised by the checkpoint's own
// tokenizer. Embeddings are L2-normalised, so a dot product is the cosine similarity. It is safe
// for concurrent use (calls are serialised around the compiled graphs).
type Embedder struct {
	Config    model.Config
	Tokenizer *tokenizer.Tokenizer
	State     checkpoint.State // the checkpoint's state (step, options, data position)
	Dir       string
	MaxPixels int64 // images larger than this are rejected (default DefaultMaxPixels)

	batch      int
	backend    backends.Backend
	ctx        *context.Context
	images     *context.Exec
	texts      *context.Exec
	logitScale float64
	mu         sync.Mutex
}

// LoadCheckpoint loads a checkpoint folder, or a run folder's latest checkpoint, on the default
// backend (pure Go; see gomlxfix.NewBackend) and compiles its embedding graphs.
func LoadCheckpoint(dir string) (*Embedder, error) {
	be, err := gomlxfix.NewBackend()
	if err != nil {
		return nil, err
	}
	return LoadCheckpointWithBackend(dir, be, DefaultEmbedBatch)
}

// LoadCheckpointWithBackend is LoadCheckpoint on a given backend with a given compiled batch size.
func LoadCheckpointWithBackend(dir string, be backends.Backend, batch int) (*Embedder, error) {
	ck, err := checkpoint.Read(dir)
	if err != nil {
		return nil, err
	}
	return NewEmbedder(ck, be, batch)
}

// NewEmbedder builds the embedding graphs over a loaded checkpoint's context.
func NewEmbedder(ck *checkpoint.Checkpoint, be backends.Backend, batch int) (*Embedder, error) {
	if batch <= 0 {
		batch = DefaultEmbedBatch
	}
	m, err := model.New(ck.State.Model)
	if err != nil {
		return nil, err
	}
	e := &Embedder{
		Config: m.Config(), Tokenizer: ck.Tokenizer, State: ck.State, Dir: ck.Dir, MaxPixels: DefaultMaxPixels,
		batch: batch, backend: be, ctx: ck.Context,
	}
	if v := ck.Context.GetVariableByScopeAndName("/", model.LogitScaleVar); v != nil {
		if t, err := v.Value(); err == nil {
			if f, ok := t.Value().(float32); ok {
				e.logitScale = math.Exp(min(float64(f), model.MaxLogitScale))
			}
		}
	}
	before := ck.Context.NumVariables()
	e.images, err = context.NewExec(be, ck.Context, func(ctx *context.Context, images *Node) *Node {
		return m.BuildImageEmbeddings(ctx, images)
	})
	if err != nil {
		return nil, fmt.Errorf("embedder: image graph: %w", err)
	}
	e.texts, err = context.NewExec(be, ck.Context, func(ctx *context.Context, tokens *Node) *Node {
		return m.BuildTextEmbeddings(ctx, tokens)
	})
	if err != nil {
		return nil, fmt.Errorf("embedder: text graph: %w", err)
	}
	// Compile both graphs now, and make sure they found every weight in the checkpoint: a variable
	// created here would be a randomly initialised one, silently.
	r := e.Config.ImageResolution
	if _, err := e.run(e.images, tensors.FromFlatDataAndDimensions(make([]float32, batch*r*r*3), batch, r, r, 3)); err != nil {
		return nil, err
	}
	tok := make([]int32, batch*e.Config.ContextLength)
	if _, err := e.run(e.texts, tensors.FromFlatDataAndDimensions(tok, batch, e.Config.ContextLength)); err != nil {
		return nil, err
	}
	if after := ck.Context.NumVariables(); after != before {
		var missing []string
		n := 0
		for v := range ck.Context.IterVariables() {
			if n++; n > before {
				missing = append(missing, v.ScopeAndName())
			}
		}
		return nil, fmt.Errorf("embedder: checkpoint %s lacks %d model variables (%s)", ck.Dir, after-before, strings.Join(missing[:min(len(missing), 5)], ", "))
	}
	return e, nil
}

// Dim is the embedding size.
func (e *Embedder) Dim() int { return e.Config.EmbedDim }

// LogitScale is exp(logit_scale) (clamped at 100): the factor CLIP multiplies cosine similarities by
// to get logits.
func (e *Embedder) LogitScale() float64 { return e.logitScale }

// Backend is the backend the graphs run on.
func (e *Embedder) Backend() backends.Backend { return e.backend }

// Context is the checkpoint's variables (for custom graphs with model.CLIP's builders).
func (e *Embedder) Context() *context.Context { return e.ctx }

func (e *Embedder) run(exec *context.Exec, input *tensors.Tensor) (out [][]float32, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	res, err := exec.Exec(input)
	if err != nil {
		return nil, fmt.Errorf("embedder: %w", err)
	}
	defer res[0].FinalizeAll()
	flat, err := tensors.CopyFlatData[float32](res[0])
	if err != nil {
		return nil, fmt.Errorf("embedder: %w", err)
	}
	d := e.Config.EmbedDim
	n := len(flat) / d
	out = make([][]float32, n)
	for i := range out {
		out[i] = flat[i*d : (i+1)*d : (i+1)*d]
	}
	return out, nil
}

// PreprocessImage decodes image bytes and applies the evaluation transform; the result is an
// R×R×3 channels-last tile.
func (e *Embedder) PreprocessImage(data []byte) ([]float32, error) {
	img, err := DecodeImage(data, e.MaxPixels)
	if err != nil {
		return nil, err
	}
	return e.PreprocessDecoded(img), nil
}

// PreprocessDecoded applies the evaluation transform to a decoded image.
func (e *Embedder) PreprocessDecoded(img image.Image) []float32 {
	r := e.Config.ImageResolution
	b := img.Bounds()
	tile := make([]float32, r*r*3)
	NewResampler(r).Tile(tile, img, CenterSquare(b.Dx(), b.Dy()))
	return tile
}

// EmbedPixels embeds preprocessed tiles (each R×R×3, as PreprocessImage returns).
func (e *Embedder) EmbedPixels(tiles [][]float32) ([][]float32, error) {
	r := e.Config.ImageResolution
	size := r * r * 3
	out := make([][]float32, 0, len(tiles))
	buf := make([]float32, e.batch*size)
	for start := 0; start < len(tiles); start += e.batch {
		chunk := tiles[start:min(start+e.batch, len(tiles))]
		clear(buf)
		for i, t := range chunk {
			if len(t) != size {
				return nil, fmt.Errorf("embedder: tile %d has %d values, want %d", start+i, len(t), size)
			}
			copy(buf[i*size:], t)
		}
		emb, err := e.run(e.images, tensors.FromFlatDataAndDimensions(buf, e.batch, r, r, 3))
		if err != nil {
			return nil, err
		}
		out = append(out, emb[:len(chunk)]...)
	}
	return out, nil
}

// ImageErrors reports the images EmbedImages could not use; their rows are nil, the others valid.
type ImageErrors struct {
	Index []int
	Errs  []error
}

func (e *ImageErrors) Error() string {
	return fmt.Sprintf("%d image(s) unusable, first #%d: %v", len(e.Index), e.Index[0], e.Errs[0])
}

// Unwrap exposes the individual errors (each wraps ErrImage).
func (e *ImageErrors) Unwrap() []error { return e.Errs }

// EmbedImages decodes (in parallel), preprocesses and embeds encoded images (JPEG, PNG, GIF). An
// undecodable image does not fail the others: its row is nil and the error is an *ImageErrors;
// any other error is fatal.
func (e *Embedder) EmbedImages(images [][]byte) ([][]float32, error) {
	tiles := make([]*[]float32, len(images))
	errs := make([]error, len(images))
	parallel(len(images), func(i int) {
		t, err := e.PreprocessImage(images[i])
		tiles[i], errs[i] = &t, err
	})
	return e.embedTiles(tiles, errs)
}

// EmbedDecoded is EmbedImages for decoded images.
func (e *Embedder) EmbedDecoded(images []image.Image) ([][]float32, error) {
	tiles := make([]*[]float32, len(images))
	errs := make([]error, len(images))
	parallel(len(images), func(i int) {
		if images[i] == nil || images[i].Bounds().Empty() {
			errs[i] = fmt.Errorf("%w: empty image", ErrImage)
			return
		}
		t := e.PreprocessDecoded(images[i])
		tiles[i] = &t
	})
	return e.embedTiles(tiles, errs)
}

func (e *Embedder) embedTiles(tiles []*[]float32, errs []error) ([][]float32, error) {
	var good [][]float32
	var idx []int
	bad := &ImageErrors{}
	for i, err := range errs {
		if err != nil {
			bad.Index = append(bad.Index, i)
			bad.Errs = append(bad.Errs, err)
			continue
		}
		good = append(good, *tiles[i])
		idx = append(idx, i)
	}
	emb, err := e.EmbedPixels(good)
	if err != nil {
		return nil, err
	}
	out := make([][]float32, len(tiles))
	for k, i := range idx {
		out[i] = emb[k]
	}
	if len(bad.Index) > 0 {
		return out, bad
	}
	return out, nil
}

// EmbedTexts tokenises (the checkpoint's tokenizer, truncated to the context length) and embeds texts.
func (e *Embedder) EmbedTexts(texts []string) ([][]float32, error) {
	l := e.Config.ContextLength
	out := make([][]float32, 0, len(texts))
	buf := make([]int32, e.batch*l)
	for start := 0; start < len(texts); start += e.batch {
		chunk := texts[start:min(start+e.batch, len(texts))]
		clear(buf)
		for i, s := range chunk {
			e.Tokenizer.EncodeTo(buf[i*l:(i+1)*l], s)
		}
		for i := len(chunk); i < e.batch; i++ { // padding rows: a valid (empty) caption
			e.Tokenizer.EncodeTo(buf[i*l:(i+1)*l], "")
		}
		emb, err := e.run(e.texts, tensors.FromFlatDataAndDimensions(buf, e.batch, l))
		if err != nil {
			return nil, err
		}
		out = append(out, emb[:len(chunk)]...)
	}
	return out, nil
}

// parallel runs fn(0..n-1) on NumCPU goroutines.
func parallel(n int, fn func(i int)) {
	workers := min(runtime.NumCPU(), n)
	var wg sync.WaitGroup
	next := make(chan int)
	for range workers {
		wg.Go(func() {
			for i := range next {
				fn(i)
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}
