package gomlxfix

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
)

// The float32 matrix product behind the fast DotGeneral (dotgeneral_exec.go) and the block kernel
// (kernel.go): C = A·Bᵀ for strided A [m, k] and B [n, k], the shape every DotGeneral takes once its
// axes are grouped into batch, cross and contracting.
//
// B is packed, a block of k at a time, into panels of 16 columns ([k][16] each, zero-padded past n);
// A is read where it lies (the tiles broadcast one element at a time, so any strides do). The tiles
// (tilesGo, or kernel_amd64.s) keep a 6×16 block of C in registers while they run down k; rows and
// columns that do not fill a tile go through a scratch tile and are merged.

const (
	tileRows  = 6    // rows of C a tile keeps in registers (the 4-row tiles serve remainders of 4)
	panelCols = 16   // columns of a packed B panel: two 8-float vectors
	kBlock    = 256  // k per packed block: a panel is kBlock·64 bytes (16 KiB), an A strip 6 KiB
	nBlock    = 1024 // columns per packed block: kBlock·nBlock·4 bytes (1 MiB) stay in L2
)

// useAsmTiles selects the assembly tiles where the CPU has them; tests clear it to run tilesGo.
var useAsmTiles = hasAsmTiles

// tiles computes, for strips strips of mr (6 or 4) rows and panels panels of 16 columns,
// C[i][j] = (acc ? C[i][j] : 0) + Σ_{κ<k} A[i][κ]·Bp[j/16][κ][j%16], with A[i][κ] = a[i·sam + κ·sak],
// C[i][j] = c[i·ldc + j] and panel p of B at b[p·k·16:]. It checks the slices cover what it touches.
func tiles(mr, strips, panels, k int, a []float32, sam, sak int, b, c []float32, ldc int, acc bool) {
	if strips <= 0 || panels <= 0 {
		return
	}
	rows := mr * strips
	switch {
	case mr != 4 && mr != 6:
		panic(fmt.Sprintf("gomlxfix: tiles of %d rows", mr))
	case k < 0 || sam < 0 || sak < 0 || ldc < panels*panelCols:
		panic(fmt.Sprintf("gomlxfix: tiles k=%d sam=%d sak=%d ldc=%d panels=%d", k, sam, sak, ldc, panels))
	case k > 0 && ((rows-1)*sam+(k-1)*sak >= len(a) || panels*k*panelCols > len(b)):
		panic(fmt.Sprintf("gomlxfix: tiles read past A (%d) or B (%d)", len(a), len(b)))
	case (rows-1)*ldc+panels*panelCols > len(c):
		panic(fmt.Sprintf("gomlxfix: tiles write past C (%d)", len(c)))
	}
	if k == 0 || !useAsmTiles {
		tilesGo(mr, strips, panels, k, a, sam, sak, b, c, ldc, acc)
		return
	}
	runTiles(mr, strips, panels, k, a, sam, sak, b, c, ldc, acc)
}

// tilesGo is the portable tiles (other architectures, CPUs without AVX2/FMA, `-tags purego`).
func tilesGo(mr, strips, panels, k int, a []float32, sam, sak int, b, c []float32, ldc int, acc bool) {
	for s := range strips {
		for p := range panels {
			bp := b[p*k*panelCols : (p+1)*k*panelCols]
			for r := range mr {
				row := s*mr + r
				var t [panelCols]float32
				ai := row * sam
				for kk := range k {
					av := a[ai+kk*sak]
					bk := bp[kk*panelCols : kk*panelCols+panelCols]
					for j, bv := range bk {
						t[j] += av * bv
					}
				}
				ct := c[row*ldc+p*panelCols : row*ldc+p*panelCols+panelCols]
				if acc {
					for j, v := range t {
						ct[j] += v
					}
				} else {
					copy(ct, t[:])
				}
			}
		}
	}
}

// gemmScratch is one worker's packing and edge buffers.
type gemmScratch struct {
	packed, wide, apad []float32
	tile               [tileRows * panelCols]float32
}

var scratchPool = sync.Pool{New: func() any { return new(gemmScratch) }}

func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// gemm is one C = A·Bᵀ: A[i][κ] = a[i·sam + κ·sak] (i < m, κ < k), B[j][κ] = b[j·sbn + κ·sbk]
// (j < n), C[i][j] = c[i·ldc + j]. C is overwritten.
type gemm struct {
	m, n, k  int
	a        []float32
	sam, sak int
	b        []float32
	sbn, sbk int
	c        []float32
	ldc      int
}

// packB packs B's columns [n0, n1) and k range [k0, k1) into dst as panels of [k1-k0][16],
// zero-padded past n1.
func (g *gemm) packB(dst []float32, n0, n1, k0, k1 int) {
	kc := k1 - k0
	for p, j0 := 0, n0; j0 < n1; p, j0 = p+1, j0+panelCols {
		panel := dst[p*kc*panelCols : (p+1)*kc*panelCols]
		w := min(panelCols, n1-j0)
		switch {
		case g.sbn == 1 && w == panelCols: // a panel row is contiguous in B: k-major B (x·W with W [in, out])
			if packRows(panel, g.b[k0*g.sbk+j0:], kc, g.sbk) {
				break
			}
			for kk := range kc {
				src := g.b[(k0+kk)*g.sbk+j0:]
				copy(panel[kk*panelCols:(kk+1)*panelCols], src[:panelCols])
			}
		case g.sbn == 1:
			for kk := range kc {
				src := g.b[(k0+kk)*g.sbk+j0:]
				row := panel[kk*panelCols : kk*panelCols+panelCols]
				copy(row, src[:w])
				clear(row[w:])
			}
		case g.sbk == 1: // B rows contiguous in k (x·Wᵀ, attention's q·kᵀ): a transpose
			if w < panelCols {
				clear(panel)
			}
			for jj := range w {
				src := g.b[(j0+jj)*g.sbn+k0:]
				src = src[:kc]
				for kk, v := range src {
					panel[kk*panelCols+jj] = v
				}
			}
		default:
			for kk := range kc {
				row := panel[kk*panelCols : kk*panelCols+panelCols]
				base := (k0 + kk) * g.sbk
				for jj := range w {
					row[jj] = g.b[base+(j0+jj)*g.sbn]
				}
				clear(row[w:])
			}
		}
	}
}

// rows computes C's rows [m0, m1), columns [n0, n1), from B's columns packed by packB over
// [k0, k1); acc adds to C instead of overwriting it.
func (g *gemm) rows(bp []float32, n0, n1, k0, k1, m0, m1 int, acc bool, scr *gemmScratch) {
	kc, nn := k1-k0, n1-n0
	full, panels := nn/panelCols, (nn+panelCols-1)/panelCols
	a := g.a[k0*g.sak:]
	c := g.c[n0:]
	strips := (m1 - m0) / tileRows
	if strips > 0 {
		tiles(tileRows, strips, full, kc, a[m0*g.sam:], g.sam, g.sak, bp, c[m0*g.ldc:], g.ldc, acc)
		if full < panels { // the last columns: each strip's tile through scratch
			for s := range strips {
				r := m0 + s*tileRows
				tiles(tileRows, 1, 1, kc, a[r*g.sam:], g.sam, g.sak, bp[full*kc*panelCols:], scr.tile[:], panelCols, false)
				mergeTile(c[r*g.ldc+full*panelCols:], g.ldc, scr.tile[:], panelCols, tileRows, nn-full*panelCols, acc)
			}
		}
	}
	r0 := m0 + strips*tileRows
	rem := m1 - r0
	switch {
	case rem == 0:
	case rem == 4:
		tiles(4, 1, full, kc, a[r0*g.sam:], g.sam, g.sak, bp, c[r0*g.ldc:], g.ldc, acc)
		if full < panels {
			tiles(4, 1, 1, kc, a[r0*g.sam:], g.sam, g.sak, bp[full*kc*panelCols:], scr.tile[:], panelCols, false)
			mergeTile(c[r0*g.ldc+full*panelCols:], g.ldc, scr.tile[:], panelCols, 4, nn-full*panelCols, acc)
		}
	default:
		// Six rows ending at m1 (rows of the strip before are read again), or, in a matrix of fewer
		// than six rows, its rows after zero rows; only the last rem rows are kept.
		src, sam, sak := a, g.sam, g.sak
		skip := tileRows - rem
		if m1 >= tileRows {
			src = a[(m1-tileRows)*g.sam:]
		} else {
			scr.apad = grow(scr.apad, tileRows*kc)
			clear(scr.apad[:skip*kc])
			for r := range rem {
				dst := scr.apad[(skip+r)*kc : (skip+r+1)*kc]
				for kk := range dst {
					dst[kk] = a[(r0+r)*g.sam+kk*g.sak]
				}
			}
			src, sam, sak = scr.apad, kc, 1
		}
		ld := panels * panelCols
		scr.wide = grow(scr.wide, tileRows*ld)
		tiles(tileRows, 1, panels, kc, src, sam, sak, bp, scr.wide, ld, false)
		mergeTile(c[r0*g.ldc:], g.ldc, scr.wide[skip*ld:], ld, rem, nn, acc)
	}
}

// mergeTile stores (or adds, with acc) src's rows×cols block into dst.
func mergeTile(dst []float32, ldd int, src []float32, lds, rows, cols int, acc bool) {
	for r := range rows {
		d, s := dst[r*ldd:r*ldd+cols], src[r*lds:r*lds+cols]
		if acc {
			for j, v := range s {
				d[j] += v
			}
		} else {
			copy(d, s)
		}
	}
}

// blocks calls fn for each (n, k) block of columns [n0, n1), k blocks innermost.
func (g *gemm) blocks(n0, n1 int, fn func(n0, n1, k0, k1 int)) {
	kBlocks := (g.k + kBlock - 1) / kBlock
	kc := (g.k + kBlocks - 1) / kBlocks // even blocks: no short last block
	for ; n0 < n1; n0 += nBlock {
		nEnd := min(n0+nBlock, n1)
		for k0 := 0; k0 < g.k; k0 += kc {
			fn(n0, nEnd, k0, min(k0+kc, g.k))
		}
	}
}

// run computes the whole product on the calling goroutine.
func (g *gemm) run(scr *gemmScratch) { g.runColumns(scr, 0, g.n) }

// runColumns computes C's columns [n0, n1) (n0 a multiple of 16).
func (g *gemm) runColumns(scr *gemmScratch, n0, n1 int) {
	if g.k == 0 {
		g.zero(n0, n1)
		return
	}
	g.blocks(n0, n1, func(n0, n1, k0, k1 int) {
		scr.packed = grow(scr.packed, packedSize(n1-n0, k1-k0))
		g.packB(scr.packed, n0, n1, k0, k1)
		g.rows(scr.packed, n0, n1, k0, k1, 0, g.m, k0 > 0, scr)
	})
}

// runParallel computes the product on up to workers goroutines: each takes a range of columns
// (packing its own panels of B) when there are enough panels, otherwise a range of rows of each
// block, the block of B packed once for all.
func (g *gemm) runParallel(workers int) {
	strips := (g.m + tileRows - 1) / tileRows
	panels := (g.n + panelCols - 1) / panelCols
	switch {
	case workers <= 1 || strips <= 1 && panels <= 1:
		scr := scratchPool.Get().(*gemmScratch)
		g.run(scr)
		scratchPool.Put(scr)
	case panels >= 2*workers || g.k == 0:
		// Column ranges handed out as the goroutines ask for them: a goroutine that starts late
		// (its core busy, or asleep) takes fewer.
		chunks := min(panels, 2*workers)
		parallelChunks(chunks, workers, func(scr *gemmScratch, c int) {
			g.runColumns(scr, panels*c/chunks*panelCols, min(panels*(c+1)/chunks*panelCols, g.n))
		})
	default:
		workers = min(workers, strips)
		main := scratchPool.Get().(*gemmScratch)
		scrs := make([]*gemmScratch, workers)
		for i := range scrs {
			scrs[i] = scratchPool.Get().(*gemmScratch)
		}
		g.blocks(0, g.n, func(n0, n1, k0, k1 int) {
			main.packed = grow(main.packed, packedSize(n1-n0, k1-k0))
			g.packB(main.packed, n0, n1, k0, k1)
			parallelFor(workers, func(w int) {
				m0 := strips * w / workers * tileRows
				m1 := min(strips*(w+1)/workers*tileRows, g.m)
				g.rows(main.packed, n0, n1, k0, k1, m0, m1, k0 > 0, scrs[w])
			})
		})
		for _, s := range scrs {
			scratchPool.Put(s)
		}
		scratchPool.Put(main)
	}
}

func (g *gemm) zero(n0, n1 int) {
	for i := range g.m {
		clear(g.c[i*g.ldc+n0 : i*g.ldc+n1])
	}
}

func packedSize(n, k int) int { return (n + panelCols - 1) / panelCols * panelCols * k }

// parallelChunks calls fn for chunks 0..chunks-1 on up to workers goroutines (the caller's
// included), each taking the next chunk when it is done with one, with its own scratch.
func parallelChunks(chunks, workers int, fn func(scr *gemmScratch, chunk int)) {
	var next atomic.Int64
	parallelFor(max(1, min(workers, chunks)), func(int) {
		scr := scratchPool.Get().(*gemmScratch)
		defer scratchPool.Put(scr)
		for c := int(next.Add(1)) - 1; c < chunks; c = int(next.Add(1)) - 1 {
			fn(scr, c)
		}
	})
}

// batchedGemm is batch products C[i] = A[i]·B[i]ᵀ, all m×n×k with the same strides: A[i] starts at
// a[aOffs[i]], B[i] at b[bOffs[i]], C[i] at c[cOffs[i]] with row stride ldc. The C blocks do not
// overlap.
type batchedGemm struct {
	batch, m, n, k int
	a              []float32
	aOffs          []int
	sam, sak       int
	b              []float32
	bOffs          []int
	sbn, sbk       int
	c              []float32
	cOffs          []int
	ldc            int
}

// minParallelFMAs is the work (multiply-adds) under which a product runs on one goroutine: below
// it, starting goroutines costs more than it saves.
const minParallelFMAs = 1 << 17

func (bg *batchedGemm) at(i int) gemm {
	return gemm{
		m: bg.m, n: bg.n, k: bg.k,
		a: bg.a[bg.aOffs[i]:], sam: bg.sam, sak: bg.sak,
		b: bg.b[bg.bOffs[i]:], sbn: bg.sbn, sbk: bg.sbk,
		c: bg.c[bg.cOffs[i]:], ldc: bg.ldc,
	}
}

// run computes all the products on up to workers goroutines: whole batch elements per worker when
// there are enough of them, otherwise row ranges of each product.
func (bg *batchedGemm) run(workers int) {
	fmas := bg.batch * bg.m * bg.n * bg.k
	if fmas < minParallelFMAs {
		workers = 1
	}
	if workers <= 1 || bg.batch >= 4*workers || bg.batch%workers == 0 {
		chunks := min(bg.batch, 4*workers)
		parallelChunks(chunks, workers, func(scr *gemmScratch, c int) {
			for i := bg.batch * c / chunks; i < bg.batch*(c+1)/chunks; i++ {
				g := bg.at(i)
				g.run(scr)
			}
		})
		return
	}
	for i := range bg.batch {
		g := bg.at(i)
		g.runParallel(workers)
	}
}

// defaultWorkers is how many goroutines a product may use.
func defaultWorkers() int { return runtime.GOMAXPROCS(0) }
