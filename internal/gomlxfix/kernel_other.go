//go:build !amd64 || purego

package gomlxfix

// hasAsmTiles is false: tiles runs tilesGo (other architectures, or the purego build tag).
var (
	hasAsmTiles    = false
	hasAVX512Tiles = false
	useAVX512Tiles = false
)

func runTiles(mr, strips, panels, k int, a []float32, sam, sak int, b, c []float32, ldc int, acc bool) {
	panic("gomlxfix: no assembly tiles in this build")
}

func fmaPeak(n int, wide bool) float64 { return 0 }

func packRows(dst, src []float32, rows, stride int) bool { return false }
