//go:build !amd64 || purego

package imgproc

// hpass is the horizontal pass over one row (hpassGo; amd64 has a vector version).
func hpass(out []int16, row []uint8, k *kernel) { hpassGo(out, row, k, 0) }

// vpass is the vertical pass for output row y (vpassGo; amd64 has a vector version).
func vpass(out []uint8, rows []int16, stride int, k *kernel, y int) {
	vpassGo(out, rows, stride, k, y, 0)
}
