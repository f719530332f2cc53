//go:build !purego

package imgproc

import "golang.org/x/sys/cpu"

// The two resampling passes are dot products of up to ~25 taps per output pixel, which Go
// does not vectorize; on AVX2 machines they run in resize_amd64.s:
//   - hpassAVX2 computes 16 taps per instruction pair: pixels zero-extended to 16 bits,
//     VPMADDWD against the weights, laid out 16 lanes per chunk with zeros past the taps;
//   - vpassAVX2 makes 16 output pixels at a time: two intermediate rows interleaved,
//     VPMADDWD against a pair of weights, packed to bytes with saturation.
// TestHPassAsmMatchesGo and TestVPassAsmMatchesGo check them output for output.

var haveAVX2 = cpu.X86.HasAVX2

//go:noescape
func hpassAVX2(out *int16, n int, row *byte, starts *int32, weights *int16, chunks int)

// hpass is the horizontal pass over one row. row's capacity is the readable memory after
// it: outputs whose 16-byte chunks would read past it are left to hpassGo.
func hpass(out []int16, row []uint8, k *kernel) {
	if !haveAVX2 || len(out) == 0 {
		hpassGo(out, row, k, 0)
		return
	}
	padded, chunks := k.vectorWeights()
	// starts only grow: the first output that would read past the buffer ends the asm part.
	n := len(out)
	for n > 0 && int(k.starts[n-1])+16*chunks > cap(row) {
		n--
	}
	if n > 0 {
		hpassAVX2(&out[0], n, &row[:1][0], &k.starts[0], &padded[0], chunks)
	}
	hpassGo(out, row, k, n)
}

//go:noescape
func vpassAVX2(out *uint8, n int, rows *int16, stride int, pairs *int32, taps int)

// vpass is the vertical pass for output row y: 16-pixel groups in assembly, the rest in Go.
func vpass(out []uint8, rows []int16, stride int, k *kernel, y int) {
	n := len(out) &^ 15
	if !haveAVX2 || n == 0 {
		vpassGo(out, rows, stride, k, y, 0)
		return
	}
	if need := (k.taps-1)*stride + n; len(rows) < need {
		panic("imgproc: vpass: short intermediate rows")
	}
	_, _ = k.vectorWeights()
	half := (k.taps + 1) / 2
	vpassAVX2(&out[0], n, &rows[0], stride, &k.pairs[y*half], k.taps)
	vpassGo(out, rows, stride, k, y, n)
}

// vectorWeights returns the kernel's weights with each output's taps padded with zeros to
// whole chunks of 16, made once per kernel.
func (k *kernel) vectorWeights() ([]int16, int) {
	k.padOnce.Do(func() {
		k.chunks = (k.taps + 15) / 16
		lanes := 16 * k.chunks
		k.padded = make([]int16, len(k.starts)*lanes)
		for x := range k.starts {
			copy(k.padded[x*lanes:], k.weights[x*k.taps:(x+1)*k.taps])
		}
		half := (k.taps + 1) / 2
		k.pairs = make([]int32, len(k.starts)*half)
		for y := range k.starts {
			ws := k.weights[y*k.taps : (y+1)*k.taps]
			for p := range half {
				lo, hi := ws[2*p], int16(0)
				if 2*p+1 < len(ws) {
					hi = ws[2*p+1]
				}
				k.pairs[y*half+p] = int32(uint32(uint16(lo)) | uint32(uint16(hi))<<16)
			}
		}
	})
	return k.padded, k.chunks
}
