//go:build !purego

package gomlxfix

import "golang.org/x/sys/cpu"

// hasAsmTiles reports whether the CPU (and OS) run the AVX2 + FMA tiles of kernel_amd64.s;
// hasAVX512Tiles whether they also run its AVX-512 tiles (twice the FMA width).
var (
	hasAsmTiles    = cpu.X86.HasAVX2 && cpu.X86.HasFMA
	hasAVX512Tiles = hasAsmTiles && cpu.X86.HasAVX512F
)

// useAVX512Tiles selects the AVX-512 tiles where the CPU has them; tests clear it.
var useAVX512Tiles = hasAVX512Tiles

// sgemmTilesAVX2 is tilesGo in assembly (see kernel_amd64.s); tiles checks its bounds.
//
//go:noescape
func sgemmTilesAVX2(mr, strips, panels, k int, a *float32, sam, sak int, b, c *float32, ldc, acc int)

// sgemmTilesAVX512 is sgemmTilesAVX2 with AVX-512.
//
//go:noescape
func sgemmTilesAVX512(mr, strips, panels, k int, a *float32, sam, sak int, b, c *float32, ldc, acc int)

// packRowsAVX2 copies rows rows of 16 floats, stride floats apart in src, to dst.
//
//go:noescape
func packRowsAVX2(dst, src *float32, rows, stride int)

// packRows copies rows rows of 16 floats (src[i·stride:][:16]) to dst[16·i:]; false if it is left
// to the caller (no assembly).
func packRows(dst, src []float32, rows, stride int) bool {
	if !useAsmTiles || rows <= 0 || len(dst) < rows*panelCols || len(src) < (rows-1)*stride+panelCols || stride < 0 {
		return false
	}
	packRowsAVX2(&dst[0], &src[0], rows, stride)
	return true
}

// fmaPeakAVX2 runs n rounds of 12 independent 8-wide FMAs (192 FLOP a round).
//
//go:noescape
func fmaPeakAVX2(n int)

// fmaPeakAVX512 runs n rounds of 12 independent 16-wide FMAs (384 FLOP a round).
//
//go:noescape
func fmaPeakAVX512(n int)

// runTiles is tiles' assembly path; the caller has checked the bounds.
func runTiles(mr, strips, panels, k int, a []float32, sam, sak int, b, c []float32, ldc int, acc bool) {
	accInt := 0
	if acc {
		accInt = 1
	}
	if useAVX512Tiles {
		sgemmTilesAVX512(mr, strips, panels, k, &a[0], sam, sak, &b[0], &c[0], ldc, accInt)
		return
	}
	sgemmTilesAVX2(mr, strips, panels, k, &a[0], sam, sak, &b[0], &c[0], ldc, accInt)
}

// fmaPeak runs n rounds of FMAs on the units the tiles use (AVX-512 with wide set) and returns
// the FLOP done, 0 where there is no such assembly.
func fmaPeak(n int, wide bool) float64 {
	switch {
	case n < 1:
		return 0
	case wide && hasAVX512Tiles:
		fmaPeakAVX512(n)
		return 384 * float64(n)
	case !wide && hasAsmTiles:
		fmaPeakAVX2(n)
		return 192 * float64(n)
	}
	return 0
}
