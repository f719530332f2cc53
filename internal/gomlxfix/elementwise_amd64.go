//go:build !purego

package gomlxfix

// binaryAVX2, expAVX2 and sigmoidAVX2 are in elementwise_amd64.s; the wrappers below check
// lengths and leave the remainders (and exp's rare out-of-range groups) to the Go loops.
//
//go:noescape
func binaryAVX2(op, mode int, c, a, b *float32, n int)

//go:noescape
func expAVX2(dst, src *float32, n int) int

//go:noescape
func sigmoidAVX2(dst, src *float32, n int) int

//go:noescape
func sumAVX2(x *float32, n int) float32

// sumRun returns the sum of x: the assembly for the multiple of 8 (in 32 partial sums, so not in
// x's order), Go for the rest.
func sumRun(x []float32) float32 {
	n := len(x) &^ 7
	var s float32
	if useAsmOps && n > 0 {
		s = sumAVX2(&x[0], n)
	} else {
		n = 0
	}
	for _, v := range x[n:] {
		s += v
	}
	return s
}

// useAsmOps selects the assembly loops where the CPU has AVX2 and FMA; tests clear it.
var useAsmOps = hasAsmTiles

// binaryRunAsm computes the first elements of binaryRun (a multiple of 16; add, sub, mul, div)
// and returns how many.
func binaryRunAsm(op binaryOp, c, a []float32, da int, b []float32, db int) int {
	n := len(c) &^ 15
	if !useAsmOps || op > opDiv || n == 0 {
		return 0
	}
	mode := 0
	switch {
	case da == 1 && db == 1 && len(a) >= n && len(b) >= n:
	case da == 1 && db == 0 && len(a) >= n && len(b) >= 1:
		mode = 1
	case da == 0 && db == 1 && len(a) >= 1 && len(b) >= n:
		mode = 2
	default:
		return 0
	}
	binaryAVX2(int(op), mode, &c[0], &a[0], &b[0], n)
	return n
}

// expRunAsm computes e^src into dst from the start in groups of 8, up to the first group it
// cannot take; it returns how many it wrote.
func expRunAsm(dst, src []float32) int {
	n := len(dst) &^ 7
	if !useAsmOps || n == 0 || len(src) < n {
		return 0
	}
	return expAVX2(&dst[0], &src[0], n)
}

// sigmoidRunAsm is expRunAsm for sigmoidRun.
func sigmoidRunAsm(dst, src []float32) int {
	n := len(dst) &^ 7
	if !useAsmOps || n == 0 || len(src) < n {
		return 0
	}
	return sigmoidAVX2(&dst[0], &src[0], n)
}
