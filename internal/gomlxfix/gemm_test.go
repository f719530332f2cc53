package gomlxfix

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

func randFloats(rng *rand.Rand, n int) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(rng.NormFloat64())
	}
	return out
}

// tilePath is one implementation of the tiles.
type tilePath int

const (
	tilesInGo tilePath = iota
	tilesAVX2
	tilesAVX512
)

func (p tilePath) String() string { return [...]string{"go", "avx2", "avx512"}[p] }

// withTiles runs fn with the tiles of path p.
func withTiles(p tilePath, fn func()) {
	defer func(asm, avx512 bool) { useAsmTiles, useAVX512Tiles = asm, avx512 }(useAsmTiles, useAVX512Tiles)
	useAsmTiles, useAVX512Tiles = p != tilesInGo, p == tilesAVX512
	fn()
}

// tilePaths lists the tile implementations this machine runs: always Go, assembly where present.
func tilePaths() []tilePath {
	paths := []tilePath{tilesInGo}
	if hasAsmTiles {
		paths = append(paths, tilesAVX2)
	}
	if hasAVX512Tiles {
		paths = append(paths, tilesAVX512)
	}
	return paths
}

// TestTilesMatchReference checks both tile implementations against a float64 sum on random
// strides (A row- and column-major, padded), k from 0 to 70 (odd and even), and accumulation.
func TestTilesMatchReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	for _, asm := range tilePaths() {
		for trial := range 200 {
			mr := []int{4, 6}[trial%2]
			strips, panels, k := 1+rng.IntN(3), 1+rng.IntN(3), rng.IntN(71)
			rows, cols := mr*strips, panels*panelCols
			var sam, sak int
			if trial%3 == 0 { // A stored k-major ("transposed")
				sak, sam = rows+rng.IntN(3), 1
			} else {
				sam, sak = k+rng.IntN(3), 1
			}
			a := randFloats(rng, rows*sam+k*sak+1)
			b := randFloats(rng, panels*k*panelCols)
			ldc := cols + rng.IntN(5)
			c := randFloats(rng, rows*ldc)
			acc := trial%4 < 2
			want := make([]float64, len(c))
			for i := range rows {
				for j := range cols {
					s := 0.0
					if acc {
						s = float64(c[i*ldc+j])
					}
					for kk := range k {
						s += float64(a[i*sam+kk*sak]) * float64(b[(j/panelCols)*k*panelCols+kk*panelCols+j%panelCols])
					}
					want[i*ldc+j] = s
				}
				for j := cols; j < ldc; j++ {
					want[i*ldc+j] = float64(c[i*ldc+j]) // past the tiles: untouched
				}
			}
			withTiles(asm, func() { tiles(mr, strips, panels, k, a, sam, sak, b, c, ldc, acc) })
			for i := range c {
				if d := math.Abs(float64(c[i]) - want[i]); d > 1e-4*(1+math.Abs(want[i])) {
					t.Fatalf("%s trial %d (mr=%d strips=%d panels=%d k=%d sam=%d sak=%d acc=%v): c[%d]=%g, want %g",
						asm, trial, mr, strips, panels, k, sam, sak, acc, i, c[i], want[i])
				}
			}
		}
	}
}

// TestTilesBounds: tiles refuses slices too short for what it would touch, before any assembly runs.
func TestTilesBounds(t *testing.T) {
	a, b, c := make([]float32, 6*8), make([]float32, 8*16), make([]float32, 6*16)
	for name, fn := range map[string]func(){
		"short A":  func() { tiles(6, 1, 1, 8, a[:6*8-1], 8, 1, b, c, 16, false) },
		"short B":  func() { tiles(6, 1, 1, 8, a, 8, 1, b[:8*16-1], c, 16, false) },
		"short C":  func() { tiles(6, 1, 1, 8, a, 8, 1, b, c[:6*16-1], 16, false) },
		"ldc":      func() { tiles(6, 1, 1, 8, a, 8, 1, b, c, 15, false) },
		"rows":     func() { tiles(5, 1, 1, 8, a, 8, 1, b, c, 16, false) },
		"negative": func() { tiles(6, 1, 1, 8, a, -8, 1, b, c, 16, false) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			fn()
		}()
	}
	tiles(6, 1, 1, 8, a, 8, 1, b, c, 16, false) // exact sizes pass
}

// naiveGemm is C = A·Bᵀ in float64 for the given strides.
func naiveGemm(g *gemm) []float64 {
	out := make([]float64, g.m*g.n)
	for i := range g.m {
		for j := range g.n {
			s := 0.0
			for kk := range g.k {
				s += float64(g.a[i*g.sam+kk*g.sak]) * float64(g.b[j*g.sbn+kk*g.sbk])
			}
			out[i*g.n+j] = s
		}
	}
	return out
}

// TestGemmMatchesNaive runs products of random sizes (edges of every kind: fewer than 6 rows,
// remainders of 1-5 rows, partial panels, several k and n blocks) and operand layouts, on 1 and 3
// workers, against a float64 product.
func TestGemmMatchesNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	sizes := [][3]int{{1, 1, 1}, {1, 16, 3}, {5, 17, 9}, {6, 16, 32}, {7, 33, 300}, {37, 37, 32}, {64, 40, 37},
		{10, 1, 600}, {130, 1030, 5}, {23, 48, 513}}
	for range 12 {
		sizes = append(sizes, [3]int{1 + rng.IntN(80), 1 + rng.IntN(80), 1 + rng.IntN(300)})
	}
	for _, asm := range tilePaths() {
		for si, s := range sizes {
			m, n, k := s[0], s[1], s[2]
			layout := si % 4
			g := gemm{m: m, n: n, k: k, ldc: n}
			a, b := randFloats(rng, m*k), randFloats(rng, n*k)
			g.a, g.b = a, b
			if layout&1 == 0 {
				g.sam, g.sak = k, 1
			} else {
				g.sam, g.sak = 1, m
			}
			if layout&2 == 0 {
				g.sbn, g.sbk = k, 1
			} else {
				g.sbn, g.sbk = 1, n
			}
			want := naiveGemm(&g)
			for _, workers := range []int{1, 3} {
				g.c = randFloats(rng, m*n) // overwritten, not added to
				withTiles(asm, func() { g.runParallel(workers) })
				for i, w := range want {
					if d := math.Abs(float64(g.c[i]) - w); d > 1e-4*(1+math.Sqrt(float64(k))) {
						t.Fatalf("%s %dx%dx%d layout %d workers %d: c[%d]=%g, want %g", asm, m, n, k, layout, workers, i, g.c[i], w)
					}
				}
			}
		}
	}
}

// TestBatchedGemmSplits: the batch split and the row split give the same products.
func TestBatchedGemmSplits(t *testing.T) {
	rng := rand.New(rand.NewPCG(25, 26))
	for _, batch := range []int{1, 2, 3, 9} {
		m, n, k := 40, 50, 70
		bg := batchedGemm{batch: batch, m: m, n: n, k: k, a: randFloats(rng, batch*m*k), b: randFloats(rng, batch*n*k),
			sam: k, sak: 1, sbn: 1, sbk: n}
		bg.ldc = n
		for i := range batch {
			bg.aOffs = append(bg.aOffs, i*m*k)
			bg.bOffs = append(bg.bOffs, i*n*k)
			bg.cOffs = append(bg.cOffs, i*m*n)
		}
		var ref []float32
		for _, workers := range []int{1, 2, 4} {
			bg.c = make([]float32, batch*m*n)
			bg.run(workers)
			if ref == nil {
				ref = bg.c
				for i := range batch {
					g := bg.at(i)
					want := naiveGemm(&g)
					for j, w := range want {
						if math.Abs(float64(ref[i*m*n+j])-w) > 1e-3 {
							t.Fatalf("batch %d elem %d: %g want %g", i, j, ref[i*m*n+j], w)
						}
					}
				}
				continue
			}
			for i := range ref {
				if math.Abs(float64(ref[i]-bg.c[i])) > 1e-4 {
					t.Fatalf("batch %d workers %d: c[%d] %g vs %g", batch, workers, i, bg.c[i], ref[i])
				}
			}
		}
	}
}

func TestViewOperand(t *testing.T) {
	for _, c := range []struct {
		dims, contracting, batch []int
		ok                       bool
		want                     string
	}{
		{[]int{3, 4}, []int{1}, nil, true, "{3 4 4 1 [] [] [] []}"},
		{[]int{4, 3}, []int{0}, nil, true, "{3 1 4 3 [] [] [] []}"},
		{[]int{2, 3, 4}, []int{2}, nil, true, "{6 4 4 1 [] [] [] []}"},
		{[]int{2, 3, 4}, []int{0, 1}, nil, true, "{4 1 6 4 [] [] [] []}"},
		{[]int{2, 3, 4}, []int{1, 0}, nil, false, ""},                     // contracting order against memory order
		{[]int{2, 3, 4}, []int{1}, nil, true, "{4 1 3 4 [2] [12] [] []}"}, // cross axes 0 and 2 are not adjacent
		{[]int{2, 5, 3, 4}, []int{3}, []int{0, 2}, true, "{5 12 4 1 [] [] [2 3] [60 4]}"},
		{[]int{2, 1, 4}, []int{2}, nil, true, "{2 4 4 1 [] [] [] []}"},
		{[]int{3}, nil, nil, true, "{3 1 1 0 [] [] [] []}"},
		{[]int{2, 3, 4, 5}, []int{2}, nil, true, "{5 1 4 5 [2 3] [60 20] [] []}"},
	} {
		v, ok := viewOperand(c.dims, c.contracting, c.batch)
		if ok != c.ok || ok && fmt.Sprint(v) != c.want {
			t.Errorf("viewOperand(%v, c%v, b%v) = %v %v, want %s %v", c.dims, c.contracting, c.batch, v, ok, c.want, c.ok)
		}
	}
	if got := fmt.Sprint(batchOffsets([]int{2, 3}, []int{100, 10})); got != "[0 10 20 100 110 120]" {
		t.Errorf("batchOffsets = %s", got)
	}
}
