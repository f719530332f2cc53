//go:build !purego

package gomlxfix

import "golang.org/x/sys/cpu"

// hasAsmTiles reports whether the CPU (and OS) run the AVX2 + FMA tiles of kernel_amd64.s.
var hasAsmTiles = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// sgemmTilesAVX2 is tilesGo in assembly (see kernel_amd64.s); tiles checks its bounds.
//
//go:noescape
func sgemmTilesAVX2(mr, strips, panels, k int, a *float32, sam, sak int, b, c *float32, ldc, acc int)

// fmaPeakAVX2 runs n rounds of 12 independent 8-wide FMAs (192 FLOP a round).
//
//go:noescape
func fmaPeakAVX2(n int)

// runTiles is tiles' assembly path; the caller has checked the bounds.
func runTiles(mr, strips, panels, k int, a []float32, sam, sak int, b, c []float32, ldc int, acc bool) {
	accInt := 0
	if acc {
		accInt = 1
	}
	sgemmTilesAVX2(mr, strips, panels, k, &a[0], sam, sak, &b[0], &c[0], ldc, accInt)
}

// fmaPeak runs n rounds of 192 FLOP on the FMA units; false where there is no assembly.
func fmaPeak(n int) bool {
	if !hasAsmTiles || n < 1 {
		return false
	}
	fmaPeakAVX2(n)
	return true
}
