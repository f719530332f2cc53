package train

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/witdata/wit/inference"
	"github.com/witdata/wit/shards"
)

// rgbTile is a CLIP-normalised r×r tile of random colours in [lo, hi].
func rgbTile(r int, lo, hi float64, rng *rand.Rand) []float32 {
	t := make([]float32, r*r*3)
	for k := range t {
		v := float32(lo + (hi-lo)*rng.Float64())
		t[k] = (v - inference.CLIPMean[k%3]) / inference.CLIPStd[k%3]
	}
	return t
}

func unnorm(t []float32) []float32 {
	out := make([]float32, len(t))
	for k, v := range t {
		out[k] = v*inference.CLIPStd[k%3] + inference.CLIPMean[k%3]
	}
	return out
}

func TestJitter(t *testing.T) {
	for _, tc := range []struct {
		name    string
		j       Jitter
		changed bool
		check   func(before, after []float32) string
	}{
		{name: "zero value", j: Jitter{}, changed: false},
		{name: "greyscale always", j: Jitter{Gray: 1}, changed: true, check: func(_, after []float32) string {
			for k := 0; k < len(after); k += 3 {
				if math.Abs(float64(after[k]-after[k+1])) > 1e-5 || math.Abs(float64(after[k]-after[k+2])) > 1e-5 {
					return "channels differ after greyscale"
				}
			}
			return ""
		}},
		{name: "strong jitter stays in range", j: Jitter{Strength: 0.8}, changed: true, check: func(_, after []float32) string {
			for _, v := range after {
				if v < -1e-5 || v > 1+1e-5 || math.IsNaN(float64(v)) {
					return "pixel outside [0, 1]"
				}
			}
			return ""
		}},
		{name: "mild jitter moves pixels a little", j: Jitter{Strength: 0.1}, changed: true, check: func(before, after []float32) string {
			for k := range after {
				if math.Abs(float64(after[k]-before[k])) > 0.3 {
					return "a 10% jitter moved a pixel by more than 0.3"
				}
			}
			return ""
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tile := rgbTile(8, 0.1, 0.9, rand.New(rand.NewPCG(1, 2)))
			before := unnorm(tile)
			tc.j.Apply(tile, rand.New(rand.NewPCG(3, 4)))
			after := unnorm(tile)
			if same := slices.EqualFunc(before, after, func(a, b float32) bool { return math.Abs(float64(a-b)) < 1e-5 }); same == tc.changed {
				t.Fatalf("changed = %v, want %v", !same, tc.changed)
			}
			if tc.check != nil {
				if msg := tc.check(before, after); msg != "" {
					t.Fatal(msg)
				}
			}
			// The same seed jitters alike (resumed runs see the same images).
			again := rgbTile(8, 0.1, 0.9, rand.New(rand.NewPCG(1, 2)))
			tc.j.Apply(again, rand.New(rand.NewPCG(3, 4)))
			if !slices.Equal(unnorm(again), after) {
				t.Fatal("same seed, different result")
			}
		})
	}
}

func TestJitterValidate(t *testing.T) {
	for _, j := range []Jitter{{Strength: -0.1}, {Strength: 1}, {Gray: -1}, {Gray: 1.1}} {
		if j.Validate() == nil {
			t.Errorf("%+v accepted", j)
		}
	}
	if err := (Jitter{Strength: 0.4, Gray: 0.2}).Validate(); err != nil {
		t.Error(err)
	}
}

// TestLoaderJitter: the loader applies the jitter to training tiles (deterministically) and not to
// the evaluation transform.
func TestLoaderJitter(t *testing.T) {
	dir := t.TempDir()
	writeShards(t, dir, 16, 16, 0, 24)
	tok := testTokenizer(t)
	base := LoaderOptions{Shards: dir, Resolution: 16, ContextLength: 8, BatchSize: 8, Workers: 2, ShuffleBuffer: 4, Seed: 5, Epochs: 1}
	load := func(o LoaderOptions) []*Batch {
		l, err := NewLoader(o, tok)
		if err != nil {
			t.Fatal(err)
		}
		return collect(t, l, shards.Position{})
	}
	plain := load(base)
	jit := base
	jit.Jitter = Jitter{Strength: 0.5, Gray: 0.5}
	a, b := load(jit), load(jit)
	if slices.Equal(plain[0].Images, a[0].Images) {
		t.Fatal("jitter did not change the training tiles")
	}
	if !slices.Equal(a[0].Images, b[0].Images) || !slices.Equal(a[1].Images, b[1].Images) {
		t.Fatal("jittered stream not deterministic")
	}
	center := base
	center.CenterCrop = true
	cj := center
	cj.Jitter = jit.Jitter
	if !slices.Equal(load(center)[0].Images, load(cj)[0].Images) {
		t.Fatal("jitter applied to the evaluation transform")
	}
	bad := base
	bad.Jitter = Jitter{Strength: 2}
	if _, err := NewLoader(bad, tok); err == nil {
		t.Fatal("strength 2 accepted")
	}
}
