package train

import (
	"context"
	"image"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/witdata/wit/inference"
	"github.com/witdata/wit/shards"
)

func collect(t *testing.T, l *Loader, from shards.Position) []*Batch {
	t.Helper()
	var out []*Batch
	for b, err := range l.Batches(context.Background(), from) {
		if err != nil {
			t.Fatal(err)
		}
		c := &Batch{Images: slices.Clone(b.Images[:b.N*l.opts.Resolution*l.opts.Resolution*3]), Tokens: slices.Clone(b.Tokens[:b.N*l.opts.ContextLength]), N: b.N, Position: b.Position, Corrupt: b.Corrupt}
		b.Release()
		out = append(out, c)
	}
	return out
}

func TestLoaderBatchesCorruptAndResume(t *testing.T) {
	dir := t.TempDir()
	writeShards(t, dir, 100, 30, 10, 24) // 4 files, every 10th image corrupt
	tok := testTokenizer(t)
	opts := LoaderOptions{Shards: dir, Resolution: 16, ContextLength: 8, BatchSize: 8, Workers: 3, ShuffleBuffer: 16, Seed: 9, Epochs: 1}
	l, err := NewLoader(opts, tok)
	if err != nil {
		t.Fatal(err)
	}
	batches := collect(t, l, shards.Position{})
	st := l.Stats()
	if st.Corrupt != 10 || st.Samples != 90 {
		t.Fatalf("corrupt %d samples %d, want 10 and 90", st.Corrupt, st.Samples)
	}
	if len(batches) != 12 || batches[11].N != 2 || batches[11].Corrupt != 10 {
		t.Fatalf("%d batches, last N=%d corrupt=%d", len(batches), batches[len(batches)-1].N, batches[len(batches)-1].Corrupt)
	}
	if last := batches[11].Position; last.Consumed != 100 {
		t.Errorf("last position %+v, want 100 consumed", last)
	}
	for _, b := range batches {
		for i := range b.N {
			row := b.Tokens[i*8 : (i+1)*8]
			if row[0] != tok.StartID() || !slices.Contains(row, tok.EndID()) {
				t.Fatalf("token row %v", row)
			}
		}
		for _, v := range b.Images {
			if math.IsNaN(float64(v)) || v < -2 || v > 2.2 {
				t.Fatalf("pixel %g outside CLIP-normalised range", v)
			}
		}
	}
	// Same seed, same stream (parallel decode does not change the order or the crops).
	l2, _ := NewLoader(opts, tok)
	again := collect(t, l2, shards.Position{})
	for i := range batches {
		if !slices.Equal(batches[i].Images, again[i].Images) || !slices.Equal(batches[i].Tokens, again[i].Tokens) {
			t.Fatalf("batch %d differs between two runs", i)
		}
	}
	// Resuming from batch 4's position gives batches 5… exactly.
	resumed := collect(t, l2, batches[4].Position)
	if len(resumed) != len(batches)-5 {
		t.Fatalf("resumed %d batches, want %d", len(resumed), len(batches)-5)
	}
	for i, b := range resumed {
		w := batches[5+i]
		if !slices.Equal(b.Images, w.Images) || !slices.Equal(b.Tokens, w.Tokens) || b.Position != w.Position {
			t.Fatalf("resumed batch %d differs", i)
		}
	}
}

func TestLoaderBoundedBuffers(t *testing.T) {
	dir := t.TempDir()
	writeShards(t, dir, 300, 100, 0, 24)
	tok := testTokenizer(t)
	opts := LoaderOptions{Shards: dir, Resolution: 16, ContextLength: 8, BatchSize: 4, Workers: 3, Prefetch: 2, InFlight: 6, ShuffleBuffer: 8, Seed: 1, Epochs: 2}
	l, err := NewLoader(opts, tok)
	if err != nil {
		t.Fatal(err)
	}
	before := runtime.NumGoroutine()
	n := 0
	for b, err := range l.Batches(context.Background(), shards.Position{}) {
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond) // a slow consumer: the loader must wait, not pile up
		b.Release()
		b.Release() // double release is harmless
		n++
	}
	st := l.Stats()
	t.Logf("%d batches; stats %+v", n, st)
	if n != 150 || st.Samples != 600 {
		t.Fatalf("%d batches %d samples, want 150 and 600", n, st.Samples)
	}
	if st.Batches > int64(opts.Prefetch+2) || st.MaxBatchesOut > int64(opts.Prefetch+2) {
		t.Errorf("allocated %d batches (max out %d), bound %d", st.Batches, st.MaxBatchesOut, opts.Prefetch+2)
	}
	if st.Tiles > int64(opts.InFlight) || st.MaxInFlight > int64(opts.InFlight) {
		t.Errorf("tiles %d, max in flight %d, bound %d", st.Tiles, st.MaxInFlight, opts.InFlight)
	}
	// Breaking out early stops every goroutine.
	for b, err := range l.Batches(context.Background(), shards.Position{}) {
		if err != nil {
			t.Fatal(err)
		}
		_ = b
		break
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if g := runtime.NumGoroutine(); g > before {
		t.Errorf("%d goroutines after break, %d before", g, before)
	}
}

func TestLoaderCancel(t *testing.T) {
	dir := t.TempDir()
	writeShards(t, dir, 50, 50, 0, 24)
	l, _ := NewLoader(LoaderOptions{Shards: dir, Resolution: 16, ContextLength: 8, BatchSize: 4, Epochs: -1}, testTokenizer(t))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n := 0
	var gotErr error
	for b, err := range l.Batches(ctx, shards.Position{}) {
		if err != nil {
			gotErr = err
			break
		}
		b.Release()
		if n++; n == 30 {
			cancel()
		}
		if n > 1000 {
			t.Fatal("stream did not stop after cancel")
		}
	}
	_ = gotErr // a cancelled stream ends quietly or with ctx's error
}

func TestRandomResizedCrop(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		w, h := 1+rng.IntN(300), 1+rng.IntN(300)
		r := RandomResizedCrop(w, h, 0.9, 1, rng)
		if r.Empty() || !r.In(image.Rect(0, 0, w, h)) {
			t.Fatalf("crop %v of %dx%d", r, w, h)
		}
		if w >= 20 && h >= 20 && w*4 <= h*3 == false && h*4 <= w*3 == false {
			if a := float64(r.Dx()*r.Dy()) / float64(w*h); a < 0.8 {
				t.Fatalf("crop %v of %dx%d keeps %.2f of the area", r, w, h, a)
			}
		}
	}
}

func FuzzDecodeAndTile(f *testing.F) {
	jpg, _ := synthPair(1, 16, rand.New(rand.NewPCG(1, 1)))
	f.Add(jpg)
	f.Add([]byte("\xff\xd8\xff\xe0"))
	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := inference.DecodeImage(data, 1<<20)
		if err != nil {
			return
		}
		b := img.Bounds()
		tile := make([]float32, 4*4*3)
		inference.NewResampler(4).Tile(tile, img, RandomResizedCrop(b.Dx(), b.Dy(), 0.9, 1, rand.New(rand.NewPCG(1, 1))))
	})
}
