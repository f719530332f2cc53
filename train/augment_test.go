package train

import (
	"image"
	"image/color"
	"image/draw"
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
		{name: "hue alone keeps every pixel's value and chroma", j: Jitter{Hue: 0.5}, changed: true, check: func(before, after []float32) string {
			for k := 0; k < len(after); k += 3 {
				v0, v1 := max(before[k], before[k+1], before[k+2]), max(after[k], after[k+1], after[k+2])
				c0, c1 := v0-min(before[k], before[k+1], before[k+2]), v1-min(after[k], after[k+1], after[k+2])
				if math.Abs(float64(v0-v1)) > 1e-4 || math.Abs(float64(c0-c1)) > 1e-4 {
					return "hue shift changed value or chroma"
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

// TestShiftHue: a third of a turn takes red to green and green to blue, grey and black have no hue,
// and a shift undone comes back.
func TestShiftHue(t *testing.T) {
	for _, tc := range []struct {
		name  string
		in    [3]float32
		shift float32
		want  [3]float32
	}{
		{"red to green", [3]float32{1, 0, 0}, 1.0 / 3, [3]float32{0, 1, 0}},
		{"green to blue", [3]float32{0, 1, 0}, 1.0 / 3, [3]float32{0, 0, 1}},
		{"red back to blue", [3]float32{1, 0, 0}, -1.0 / 3, [3]float32{0, 0, 1}},
		{"orange to yellow-green", [3]float32{1, 0.5, 0}, 1.0 / 6, [3]float32{0.5, 1, 0}},
		{"dark red to dark cyan", [3]float32{0.4, 0.2, 0.2}, 0.5, [3]float32{0.2, 0.4, 0.4}},
		{"grey unchanged", [3]float32{0.5, 0.5, 0.5}, 0.3, [3]float32{0.5, 0.5, 0.5}},
		{"full turn", [3]float32{0.9, 0.3, 0.6}, 1, [3]float32{0.9, 0.3, 0.6}},
	} {
		px := tc.in[:]
		px = slices.Clone(px)
		shiftHue(px, tc.shift)
		for c := range 3 {
			if math.Abs(float64(px[c]-tc.want[c])) > 1e-5 {
				t.Errorf("%s: %v → %v, want %v", tc.name, tc.in, px, tc.want)
				break
			}
		}
	}
	tile := unnorm(rgbTile(8, 0, 1, rand.New(rand.NewPCG(5, 6))))
	back := slices.Clone(tile)
	shiftHue(back, 0.17)
	shiftHue(back, -0.17)
	for k := range tile {
		if math.Abs(float64(back[k]-tile[k])) > 1e-4 {
			t.Fatalf("shift and back moved a pixel %g → %g", tile[k], back[k])
		}
	}
}

func TestJitterValidate(t *testing.T) {
	for _, j := range []Jitter{{Strength: -0.1}, {Strength: 1}, {Gray: -1}, {Gray: 1.1}, {Hue: -0.1}, {Hue: 0.6}} {
		if j.Validate() == nil {
			t.Errorf("%+v accepted", j)
		}
	}
	if err := (Jitter{Strength: 0.4, Gray: 0.2}).Validate(); err != nil {
		t.Error(err)
	}
}

// square is a w×w white image with a red square of side s at (x0, y0).
func square(w, s, x0, y0 int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, w))
	draw.Draw(img, img.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
	draw.Draw(img, image.Rect(x0, y0, x0+s, y0+s), image.NewUniform(color.RGBA{R: 220, A: 255}), image.Point{}, draw.Src)
	return img
}

func TestZoomOut(t *testing.T) {
	src := square(40, 20, 10, 10)
	for _, tc := range []struct {
		name     string
		z        ZoomOut
		same     bool
		min, max int // canvas side range
	}{
		{name: "zero value", z: ZoomOut{}, same: true},
		{name: "never", z: ZoomOut{Prob: 0, Min: 0.5}, same: true},
		{name: "min 1 cannot zoom", z: ZoomOut{Prob: 1, Min: 1}, same: true},
		{name: "always, down to half", z: ZoomOut{Prob: 1, Min: 0.5}, min: 40, max: 80},
		{name: "always, down to a fifth", z: ZoomOut{Prob: 1, Min: 0.2}, min: 40, max: 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for seed := range uint64(20) {
				out := tc.z.Apply(src, rand.New(rand.NewPCG(seed, 1)))
				if tc.same {
					if out != image.Image(src) {
						t.Fatal("image changed")
					}
					continue
				}
				side := out.Bounds().Dx()
				if out.Bounds().Dy() != side || side < tc.min || side > tc.max {
					t.Fatalf("canvas %v, want a square side in [%d, %d]", out.Bounds(), tc.min, tc.max)
				}
				// The image is on the canvas unchanged (same number of red pixels) and the margin
				// has the border's colour (white).
				red, white := 0, 0
				for y := range side {
					for x := range side {
						switch out.At(x, y) {
						case color.RGBA{R: 220, A: 255}:
							red++
						case color.RGBA{R: 255, G: 255, B: 255, A: 255}:
							white++
						}
					}
				}
				if red != 400 || red+white != side*side {
					t.Fatalf("canvas %d²: %d red (want 400), %d white", side, red, white)
				}
			}
		})
	}
	if (ZoomOut{Prob: 1.5, Min: 0.5}).Validate() == nil || (ZoomOut{Prob: 0.5, Min: 0.01}).Validate() == nil {
		t.Error("out-of-range zoom-out accepted")
	}
}

// TestBorderColour: the border's most frequent colour, not its mean, so an object touching the
// border does not tint the canvas.
func TestBorderColour(t *testing.T) {
	img := square(40, 30, 0, 5) // the red square touches the left border
	if c := borderColour(img); c != (color.RGBA{R: 255, G: 255, B: 255, A: 255}) {
		t.Fatalf("border colour %v, want white", c)
	}
}

func TestOutline(t *testing.T) {
	const r = 24
	res := inference.NewResampler(r)
	tile := make([]float32, r*r*3)
	res.Tile(tile, square(r, 12, 6, 6), image.Rect(0, 0, r, r))
	before := unnorm(tile)
	(Outline{}).Apply(tile, r, make([]float32, r*r), rand.New(rand.NewPCG(1, 1)))
	if !slices.Equal(unnorm(tile), before) {
		t.Fatal("zero value changed the tile")
	}
	(Outline{Prob: 1}).Apply(tile, r, make([]float32, r*r), rand.New(rand.NewPCG(1, 1)))
	after := unnorm(tile)
	black := func(img []float32, x, y int) bool {
		k := (y*r + x) * 3
		return img[k] < 0.01 && img[k+1] < 0.01 && img[k+2] < 0.01
	}
	// The square's edge (columns 5–6 and 17–18 along its height) turns black; its inside and the
	// background far from it keep their colours.
	for _, p := range [][2]int{{6, 12}, {17, 12}, {12, 6}, {12, 17}} {
		if !black(after, p[0], p[1]) {
			t.Errorf("edge pixel %v not black", p)
		}
	}
	for _, p := range [][2]int{{12, 12}, {1, 1}, {22, 22}} {
		k := (p[1]*r + p[0]) * 3
		if black(after, p[0], p[1]) || math.Abs(float64(after[k]-before[k])) > 1e-5 {
			t.Errorf("pixel %v away from edges changed", p)
		}
	}
	if (Outline{Prob: 2}).Validate() == nil || (Outline{Prob: 0.5, Threshold: -1}).Validate() == nil {
		t.Error("out-of-range outline accepted")
	}
}

// TestLoaderAugmentations: each augmentation changes the training tiles, deterministically, and
// never the evaluation transform; out-of-range settings are refused.
func TestLoaderAugmentations(t *testing.T) {
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
	for _, tc := range []struct {
		name     string
		set, bad func(*LoaderOptions)
	}{
		{"jitter", func(o *LoaderOptions) { o.Jitter = Jitter{Strength: 0.5, Gray: 0.5} }, func(o *LoaderOptions) { o.Jitter = Jitter{Strength: 2} }},
		{"zoom-out", func(o *LoaderOptions) { o.ZoomOut = ZoomOut{Prob: 1, Min: 0.5} }, func(o *LoaderOptions) { o.ZoomOut = ZoomOut{Prob: 1, Min: 0} }},
		{"outline", func(o *LoaderOptions) { o.Outline = Outline{Prob: 1} }, func(o *LoaderOptions) { o.Outline = Outline{Prob: -1} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := base
			tc.set(&o)
			a, b := load(o), load(o)
			if slices.Equal(plain[0].Images, a[0].Images) {
				t.Fatal("training tiles unchanged")
			}
			if !slices.Equal(a[0].Images, b[0].Images) || !slices.Equal(a[1].Images, b[1].Images) {
				t.Fatal("stream not deterministic")
			}
			center := base
			center.CenterCrop = true
			co := center
			tc.set(&co)
			if !slices.Equal(load(center)[0].Images, load(co)[0].Images) {
				t.Fatal("applied to the evaluation transform")
			}
			bad := base
			tc.bad(&bad)
			if _, err := NewLoader(bad, tok); err == nil {
				t.Fatal("out-of-range setting accepted")
			}
		})
	}
}
