package imgproc

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestHPassAsmMatchesGo: the horizontal pass as dispatched (AVX2 assembly on amd64) equals
// hpassGo output for output, for up- and downscales whose kernels span 1 to 3 chunks of 16
// taps, on rows whose readable memory ends at the row (the tail falls back to Go) or runs on.
func TestHPassAsmMatchesGo(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, c := range []struct{ src, dst int }{
		{1, 1}, {2, 7}, {16, 16}, {17, 5}, {100, 256}, {640, 256}, {1000, 256}, {1535, 256},
		{2000, 333}, {3000, 128}, {257, 1}, {256, 16}, {37, 36},
	} {
		k := makeKernel(c.src, c.dst)
		for _, extra := range []int{0, 3, 64} {
			row := make([]uint8, c.src+extra)
			for i := range row {
				row[i] = uint8(rng.IntN(256))
			}
			if rng.IntN(2) == 0 { // extremes: saturated edges are where rounding and sign matter
				for i := range row {
					row[i] = uint8(255 * rng.IntN(2))
				}
			}
			got := make([]int16, c.dst)
			want := make([]int16, c.dst)
			hpass(got, row[:c.src], k)
			hpassGo(want, row[:c.src], k, 0)
			if !slices.Equal(got, want) {
				t.Fatalf("%d→%d (taps %d, %d readable after): vector pass differs from hpassGo", c.src, c.dst, k.taps, extra)
			}
		}
	}
}

func BenchmarkHPass(b *testing.B) {
	k := makeKernel(640, 256)
	row := make([]uint8, 640)
	for i := range row {
		row[i] = uint8(i * 7)
	}
	out := make([]int16, 256)
	for b.Loop() {
		hpass(out, row, k)
	}
}

// TestVPassAsmMatchesGo: the vertical pass as dispatched equals vpassGo byte for byte, for
// kernels of odd and even tap counts and widths with and without a tail of under 16 columns,
// on intermediate values across their whole range (saturating at 0 and 255).
func TestVPassAsmMatchesGo(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, c := range []struct{ src, dst, width int }{
		{1, 1, 16}, {2, 7, 17}, {16, 16, 31}, {17, 5, 256}, {100, 256, 5}, {640, 256, 144},
		{1000, 256, 64}, {1535, 256, 333}, {3000, 128, 48}, {37, 36, 15},
	} {
		k := makeKernel(c.src, c.dst)
		rows := make([]int16, c.src*c.width)
		for i := range rows {
			switch rng.IntN(4) {
			case 0:
				rows[i] = int16(-80*64 + rng.IntN(415*64)) // the horizontal pass's range
			case 1:
				rows[i] = -80 * 64
			case 2:
				rows[i] = 335 * 64
			default:
				rows[i] = int16(rng.IntN(256) * 64)
			}
		}
		for y := range c.dst {
			s := int(k.starts[y])
			got := make([]uint8, c.width)
			want := make([]uint8, c.width)
			vpass(got, rows[s*c.width:], c.width, k, y)
			vpassGo(want, rows[s*c.width:], c.width, k, y, 0)
			if !slices.Equal(got, want) {
				t.Fatalf("%d→%d (taps %d), width %d, row %d: vector pass differs from vpassGo", c.src, c.dst, k.taps, c.width, y)
			}
		}
	}
}
