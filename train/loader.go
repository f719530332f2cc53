package train

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"

	"github.com/witdata/wit/inference"
	"github.com/witdata/wit/shards"
	"github.com/witdata/wit/tokenizer"
)

// LoaderOptions configures the training data loader.
type LoaderOptions struct {
	Shards        string // image shard folder
	Resolution    int    // output images are Resolution² (the model's ImageResolution)
	ContextLength int    // tokens per caption (the model's ContextLength)
	BatchSize     int
	Workers       int     // decode goroutines (default 2)
	Prefetch      int     // ready batches queued ahead of the consumer (default 2)
	InFlight      int     // samples between the shard reader and a batch (default 4×Workers)
	ShuffleBuffer int     // the shard loader's shuffle buffer (default 2048)
	Seed          uint64  // shuffle and crop seed
	Epochs        int     // epochs to stream (0: one; -1: forever)
	ScaleMin      float64 // random resized crop area range (default 0.9–1.0, OpenCLIP's)
	ScaleMax      float64
	Jitter        Jitter  // colour jitter after the random crop (zero: none)
	ZoomOut       ZoomOut // zoom-out before the random crop (zero: none)
	Outline       Outline // contours drawn after the colour jitter (zero: none)
	CenterCrop    bool    // evaluation transform: no random crop, no jitter
	MaxPixels     int64   // larger images count as corrupt (default inference.DefaultMaxPixels)
}

func (o LoaderOptions) withDefaults() LoaderOptions {
	if o.Workers <= 0 {
		o.Workers = 2
	}
	if o.Prefetch <= 0 {
		o.Prefetch = 2
	}
	if o.InFlight <= 0 {
		o.InFlight = 4 * o.Workers
	}
	if o.ShuffleBuffer == 0 {
		o.ShuffleBuffer = 2048
	}
	if o.ScaleMin == 0 && o.ScaleMax == 0 {
		o.ScaleMin, o.ScaleMax = CropScaleMin, CropScaleMax
	}
	if o.MaxPixels == 0 {
		o.MaxPixels = inference.DefaultMaxPixels
	}
	return o
}

// Batch is one batch of preprocessed pairs, channels-last images and padded token rows. Call Release
// when done with it (after copying it into tensors): batches are recycled, which bounds memory.
type Batch struct {
	Images   []float32       // [N, R, R, 3] (the first N rows are valid)
	Tokens   []int32         // [N, L]
	N        int             // valid rows: BatchSize, less only for the last batch of a finite stream
	Position shards.Position // shard loader position after the batch's last row (resume from here)
	Corrupt  int64           // corrupt images skipped so far in this stream
	held     atomic.Bool     // handed out and not yet released
	release  func(*Batch)
}

// Release returns the batch to its loader (a second call is a no-op).
func (b *Batch) Release() {
	if b.held.CompareAndSwap(true, false) && b.release != nil {
		b.release(b)
	}
}

// LoaderStats counts what a loader allocated and skipped.
type LoaderStats struct {
	Batches       int64 // batch buffers allocated (≤ Prefetch+2)
	Tiles         int64 // per-sample image buffers allocated (≤ InFlight)
	Samples       int64 // pairs delivered
	Corrupt       int64 // images skipped as undecodable or too large
	MaxInFlight   int64 // high-water mark of samples between reader and batch
	MaxBatchesOut int64 // high-water mark of batches queued or held, not yet released (≤ Prefetch+2)
}

// Loader turns image shards into training batches: parallel decode, augmentation, tokenisation and
// prefetch, in the shard loader's exact (seeded, resumable) order.
type Loader struct {
	opts   LoaderOptions
	tok    *tokenizer.Tokenizer
	shards *shards.Loader

	batches, tiles, samples, corrupt, maxInFlight, outBatches, maxOut atomic.Int64
}

// NewLoader opens the shards (columns "image" and "caption").
func NewLoader(opts LoaderOptions, tok *tokenizer.Tokenizer) (*Loader, error) {
	opts = opts.withDefaults()
	if opts.Resolution <= 0 || opts.ContextLength < 2 || opts.BatchSize <= 0 {
		return nil, fmt.Errorf("loader: resolution %d, context length %d, batch %d", opts.Resolution, opts.ContextLength, opts.BatchSize)
	}
	if opts.ScaleMin <= 0 || opts.ScaleMax > 1 || opts.ScaleMin > opts.ScaleMax {
		return nil, fmt.Errorf("loader: crop scale range [%g, %g] not within (0, 1]", opts.ScaleMin, opts.ScaleMax)
	}
	if err := opts.Jitter.Validate(); err != nil {
		return nil, fmt.Errorf("loader: %w", err)
	}
	if err := opts.Outline.Validate(); err != nil {
		return nil, fmt.Errorf("loader: %w", err)
	}
	if err := opts.ZoomOut.Validate(); err != nil {
		return nil, fmt.Errorf("loader: %w", err)
	}
	sl, err := shards.NewLoader(opts.Shards, shards.LoaderOptions{
		Columns: []string{shards.ColImage, shards.ColCaption}, Seed: opts.Seed, ShuffleShards: true,
		ShuffleBuffer: opts.ShuffleBuffer, Epochs: opts.Epochs,
	})
	if err != nil {
		return nil, fmt.Errorf("loader: %w", err)
	}
	return &Loader{opts: opts, tok: tok, shards: sl}, nil
}

// EpochSize is the number of rows (corrupt ones included) in one epoch.
func (l *Loader) EpochSize() int64 { return l.shards.EpochSize() }

// Stats returns the loader's counters.
func (l *Loader) Stats() LoaderStats {
	return LoaderStats{
		Batches: l.batches.Load(), Tiles: l.tiles.Load(), Samples: l.samples.Load(), Corrupt: l.corrupt.Load(),
		MaxInFlight: l.maxInFlight.Load(), MaxBatchesOut: l.maxOut.Load(),
	}
}

type job struct {
	seq     int64
	image   []byte
	caption string
	pos     shards.Position
}

type result struct {
	seq    int64
	tile   []float32
	tokens []int32
	pos    shards.Position
	err    error
}

// pool is a free list with a creation counter; the number of live items is bounded by the callers'
// protocol (tickets for tiles, the prefetch channel for batches), not by the pool.
type pool[T any] struct {
	free    chan T
	newItem func() T
}

func (p *pool[T]) get() T {
	select {
	case x := <-p.free:
		return x
	default:
		return p.newItem()
	}
}

func (p *pool[T]) put(x T) {
	select {
	case p.free <- x:
	default: // more returned than the pool holds: let the GC have it
	}
}

// Batches streams batches from position from. Breaking out of the loop stops the workers. The
// stream ends after the configured epochs (with a last, possibly short, batch) or at the first
// shard read error, which is yielded.
func (l *Loader) Batches(ctx context.Context, from shards.Position) iter.Seq2[*Batch, error] {
	return func(yield func(*Batch, error) bool) {
		ctx, cancel := context.WithCancel(ctx)
		out := make(chan *Batch, l.opts.Prefetch)
		var readErr error
		var wg sync.WaitGroup
		wg.Go(func() { readErr = l.pipeline(ctx, from, out) })
		defer func() {
			cancel()
			for b := range out { // unblock the orderer
				b.Release()
			}
			wg.Wait()
		}()
		for b := range out {
			if !yield(b, nil) {
				return
			}
		}
		wg.Wait()
		if readErr != nil && !errors.Is(readErr, context.Canceled) {
			yield(nil, readErr)
		} else if err := ctx.Err(); err != nil && !errors.Is(err, context.Canceled) {
			yield(nil, err)
		}
	}
}

// pipeline runs reader → workers → orderer and closes out when done.
func (l *Loader) pipeline(ctx context.Context, from shards.Position, out chan<- *Batch) error {
	defer close(out)
	o := l.opts
	r, L := o.Resolution, o.ContextLength
	tileSize := r * r * 3
	tiles := &pool[[]float32]{free: make(chan []float32, o.InFlight), newItem: func() []float32 {
		l.tiles.Add(1)
		return make([]float32, tileSize)
	}}
	// Batches in use: the one being filled, Prefetch queued, one held by the consumer. A slot is
	// taken when a batch starts filling and given back by Release, so at most Prefetch+2 batches
	// ever exist, however slowly the consumer releases them.
	batchSlots := make(chan struct{}, o.Prefetch+2)
	batchPool := &pool[*Batch]{free: make(chan *Batch, o.Prefetch+2)}
	release := func(b *Batch) {
		l.outBatches.Add(-1)
		batchPool.put(b)
		<-batchSlots
	}
	batchPool.newItem = func() *Batch {
		l.batches.Add(1)
		return &Batch{Images: make([]float32, o.BatchSize*tileSize), Tokens: make([]int32, o.BatchSize*L), release: release}
	}
	tickets := make(chan struct{}, o.InFlight) // samples between reader and orderer
	jobs := make(chan job, o.Workers)
	results := make(chan result, o.Workers)
	var inFlight atomic.Int64

	var readErr error
	var wg sync.WaitGroup
	wg.Go(func() { // reader
		defer close(jobs)
		var seq int64
		for row, err := range l.shards.Samples(ctx, from) {
			if err != nil {
				readErr = err
				return
			}
			select {
			case tickets <- struct{}{}:
			case <-ctx.Done():
				return
			}
			n := inFlight.Add(1)
			for m := l.maxInFlight.Load(); n > m && !l.maxInFlight.CompareAndSwap(m, n); m = l.maxInFlight.Load() {
			}
			j := job{seq: seq, pos: row.Pos}
			j.image, _ = row.Values[0].([]byte)
			j.caption, _ = row.Values[1].(string)
			seq++
			select {
			case jobs <- j:
			case <-ctx.Done():
				return
			}
		}
	})
	var workers sync.WaitGroup
	for range o.Workers {
		workers.Go(func() {
			res := inference.NewResampler(r)
			edges := make([]float32, r*r) // Outline's scratch
			for j := range jobs {
				rr := result{seq: j.seq, pos: j.pos, tokens: make([]int32, L)}
				rr.tile = tiles.get()
				rr.err = l.prepare(res, edges, rr.tile, j)
				l.tok.EncodeTo(rr.tokens, j.caption)
				select {
				case results <- rr:
				case <-ctx.Done():
					return
				}
			}
		})
	}
	go func() { workers.Wait(); close(results) }()

	// Orderer: restore the reader's order, skip corrupt samples, fill batches.
	pending := make(map[int64]result)
	var next int64
	var cur *Batch
	var corrupt int64
	send := func(b *Batch) bool {
		b.Corrupt = corrupt
		b.held.Store(true)
		n := l.outBatches.Add(1)
		for m := l.maxOut.Load(); n > m && !l.maxOut.CompareAndSwap(m, n); m = l.maxOut.Load() {
		}
		select {
		case out <- b:
			return true
		case <-ctx.Done():
			return false
		}
	}
	ok := true
	for rr := range results {
		if !ok {
			continue // drain so workers exit
		}
		pending[rr.seq] = rr
		for {
			p, found := pending[next]
			if !found {
				break
			}
			delete(pending, next)
			next++
			if p.err != nil {
				corrupt++
				l.corrupt.Add(1)
				slog.Debug("skipping corrupt image", "epoch", p.pos.Epoch, "consumed", p.pos.Consumed, "err", p.err)
			} else {
				if cur == nil {
					select {
					case batchSlots <- struct{}{}:
					case <-ctx.Done():
						ok = false
					}
					if !ok {
						break
					}
					cur = batchPool.get()
					cur.N = 0
				}
				copy(cur.Images[cur.N*tileSize:], p.tile)
				copy(cur.Tokens[cur.N*L:], p.tokens)
				cur.N++
				l.samples.Add(1)
			}
			if cur != nil {
				cur.Position = p.pos // corrupt rows advance the position too
			}
			tiles.put(p.tile)
			inFlight.Add(-1)
			<-tickets
			if cur != nil && cur.N == o.BatchSize {
				b := cur
				cur = nil
				if ok = send(b); !ok {
					break
				}
			}
		}
	}
	wg.Wait()
	if ok && cur != nil && cur.N > 0 && readErr == nil {
		ok = send(cur)
	}
	if !ok && cur != nil { // never handed out: give its slot back
		<-batchSlots
	}
	return readErr
}

// prepare decodes a sample and writes its augmented, normalised tile.
func (l *Loader) prepare(res *inference.Resampler, edges, tile []float32, j job) error {
	if len(j.image) == 0 {
		return fmt.Errorf("%w: empty", inference.ErrImage)
	}
	img, err := inference.DecodeImage(j.image, l.opts.MaxPixels)
	if err != nil {
		return err
	}
	b := img.Bounds()
	var rect = inference.CenterSquare(b.Dx(), b.Dy())
	if !l.opts.CenterCrop {
		// The crop depends on the seed and the sample's position only: a resumed run crops alike.
		rng := rand.New(rand.NewPCG(l.opts.Seed^0xC1F0C1F0, uint64(j.pos.Epoch)<<40^uint64(j.pos.Consumed)))
		if l.opts.ZoomOut.Active() {
			img = l.opts.ZoomOut.Apply(img, rng)
			b = img.Bounds()
		}
		rect = RandomResizedCrop(b.Dx(), b.Dy(), l.opts.ScaleMin, l.opts.ScaleMax, rng)
		res.Tile(tile, img, rect)
		l.opts.Jitter.Apply(tile, rng)
		if l.opts.Outline.Prob > 0 {
			l.opts.Outline.Apply(tile, res.R, edges, rng)
		}
		return nil
	}
	res.Tile(tile, img, rect)
	return nil
}
