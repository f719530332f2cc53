package imgproc

import (
	"math"
	"sync"
	"sync/atomic"
)

// The resizer works on one 8-bit plane at a time, in two steps:
//
//  1. Box pre-reduction by an integer factor per axis, chosen so that at least
//     boxHeadroom× the target resolution remains. It reads every source pixel
//     once with adds only, which is what makes large downscales cheap.
//  2. A separable Catmull-Rom pass whose support is widened by the remaining
//     reduction factor (as x/image/draw does), with fixed-point weights
//     computed once per call and a 16-bit intermediate.
//
// The result stays within a few tenths of a grey level of x/image/draw's
// CatmullRom on photos (see TestPSNRAgainstCatmullRom). On amd64 with AVX2 both
// passes of step 2 run in assembly (resize_amd64.s), bit for bit the Go ones.

// boxHeadroom is the minimum ratio of box-reduced size to target size.
// Larger keeps more of the reduction in the Catmull-Rom pass: sharper and
// closer to the reference, but slower.
const boxHeadroom = 3

const weightBits = 14

// kernel holds, for every output coordinate, the first source index and
// `taps` fixed-point weights summing to 1<<weightBits.
type kernel struct {
	taps    int
	starts  []int32
	weights []int16

	// For the vector passes (resize_amd64.go): the weights padded to whole 16-lane chunks
	// (horizontal), and as pairs of taps in one int32 (vertical).
	padOnce sync.Once
	padded  []int16
	chunks  int
	pairs   []int32
}

func catmullRom(t float64) float64 {
	if t < 0 {
		t = -t
	}
	switch {
	case t < 1:
		return (1.5*t-2.5)*t*t + 1
	case t < 2:
		return ((-0.5*t+2.5)*t-4)*t + 2
	}
	return 0
}

type kernelKey struct{ src, dst int }

// kernelCache keeps kernels for recently used size pairs: a shard of photos
// repeats a handful of geometries (1920→256, 4000→256, ...).
var kernelCache sync.Map // kernelKey → *kernel

func getKernel(src, dst int) *kernel {
	key := kernelKey{src, dst}
	if k, ok := kernelCache.Load(key); ok {
		return k.(*kernel)
	}
	k := makeKernel(src, dst)
	// Bound the cache: odd sizes from the open web would otherwise grow it forever.
	if n := kernelCacheLen.Add(1); n > 4096 {
		kernelCache.Clear()
		kernelCacheLen.Store(0)
	}
	kernelCache.Store(key, k)
	return k
}

var kernelCacheLen atomic.Int64

func makeKernel(src, dst int) *kernel {
	scale := float64(src) / float64(dst)
	filterScale := max(scale, 1)
	support := 2 * filterScale
	taps := min(int(math.Ceil(2*support))+1, src)
	k := &kernel{taps: taps, starts: make([]int32, dst), weights: make([]int16, dst*taps)}
	fw := make([]float64, taps)
	for i := 0; i < dst; i++ {
		center := (float64(i) + 0.5) * scale
		first := int(math.Floor(center - support))
		start := min(max(first, 0), src-taps)
		clear(fw)
		var sum float64
		for j := first; j <= int(math.Ceil(center+support)); j++ {
			if j < 0 || j >= src {
				continue // dropped and renormalised, like x/image/draw
			}
			v := catmullRom((float64(j) + 0.5 - center) / filterScale)
			if v == 0 {
				continue
			}
			idx := j - start
			if idx < 0 || idx >= taps {
				continue // outside the window: only possible for ~0 weights at the rim
			}
			fw[idx] += v
			sum += v
		}
		k.starts[i] = int32(start)
		ws := k.weights[i*taps : (i+1)*taps]
		total, big := 0, 0
		for t := range fw {
			q := int(math.Round(fw[t] / sum * (1 << weightBits)))
			ws[t] = int16(q)
			total += q
			if abs(q) > abs(int(ws[big])) {
				big = t
			}
		}
		ws[big] += int16((1 << weightBits) - total) // exact unit gain
	}
	return k
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// resizePlane resamples src to a new dw×dh plane (from the pool).
func resizePlane(src plane, dw, dh int) plane {
	if src.constant() {
		return constPlane(dw, dh, src.val)
	}
	dst := newPlane(dw, dh)
	if src.w == dw && src.h == dh {
		for y := 0; y < dh; y++ {
			copy(dst.row(y), src.row(y))
		}
		return dst
	}
	// Factors are capped so that block sums and their reciprocal stay exact.
	kx := min(max(1, src.w/(boxHeadroom*dw)), maxBox)
	ky := min(max(1, src.h/(boxHeadroom*dh)), maxBox)
	work := src
	if kx > 1 || ky > 1 {
		work = boxReduce(src, kx, ky)
		defer bytePool.put(work.pix)
	}
	resample(work, dst)
	return dst
}

const maxBox = 255

// boxReduce averages kx×ky blocks. Up to kx-1 columns and ky-1 rows at the
// right and bottom edge are dropped (under a quarter of an output pixel,
// given boxHeadroom = 4).
func boxReduce(src plane, kx, ky int) plane {
	bw, bh := src.w/kx, src.h/ky
	out := newPlane(bw, bh)
	colSum := int32Pool.get(src.w)
	defer int32Pool.put(colSum)
	n := uint32(kx * ky)
	// Multiply by a reciprocal instead of dividing. With n ≤ 255² the
	// rounded sums are < 2^24, and ceil(2^40/n) gives exact quotients there.
	recip := ((uint64(1) << 40) + uint64(n) - 1) / uint64(n)
	for by := 0; by < bh; by++ {
		cs := colSum[:src.w]
		clear(cs)
		for r := 0; r < ky; r++ {
			row := src.row(by*ky + r)
			cs := cs[:len(row)]
			for x, v := range row {
				cs[x] += int32(v)
			}
		}
		o := out.row(by)
		if kx == 1 {
			for x := range o {
				o[x] = uint8((uint64(uint32(cs[x])+n/2) * recip) >> 40)
			}
			continue
		}
		for x := range o {
			blk := cs[x*kx : x*kx+kx]
			var s int32
			for _, v := range blk {
				s += v
			}
			o[x] = uint8((uint64(uint32(s)+n/2) * recip) >> 40)
		}
	}
	return out
}

// resample applies the separable Catmull-Rom filter from src to dst
// (any ratio, up or down).
func resample(src, dst plane) {
	hk := getKernel(src.w, dst.w)
	vk := getKernel(src.h, dst.h)
	dw := dst.w

	// Horizontal pass, only over the source rows the vertical pass reads.
	rowLo := int(vk.starts[0])
	rowHi := int(vk.starts[len(vk.starts)-1]) + vk.taps
	tmp := int16Pool.get((rowHi - rowLo) * dw)
	defer int16Pool.put(tmp)
	for y := rowLo; y < rowHi; y++ {
		// The row runs on to the end of the buffer: the vector pass reads whole 16-byte
		// chunks past a window's last tap (with zero weights) wherever that is readable.
		rest := src.pix[y*src.stride:]
		hpass(tmp[(y-rowLo)*dw:(y-rowLo+1)*dw], rest[:src.w:len(rest)], hk)
	}

	// Vertical pass: each output row is a weighted sum of vk.taps intermediate rows.
	for y := 0; y < dst.h; y++ {
		s := int(vk.starts[y]) - rowLo
		vpass(dst.row(y), tmp[s*dw:], dw, vk, y)
	}
}

// vpassGo computes columns [from, len(out)) of output row y from the intermediate rows
// starting at rows (stride apart), accumulating whole rows (sequential memory access).
func vpassGo(out []uint8, rows []int16, stride int, k *kernel, y, from int) {
	if from >= len(out) {
		return
	}
	const shift = weightBits + 6
	acc := int32Pool.get(len(out) - from)
	defer int32Pool.put(acc)
	for x := range acc {
		acc[x] = 1 << (shift - 1)
	}
	for t, w := range k.weights[y*k.taps : (y+1)*k.taps] {
		if w == 0 {
			continue
		}
		in := rows[t*stride+from : t*stride+len(out)]
		a := acc[:len(in)]
		w32 := int32(w)
		for x, v := range in {
			a[x] += int32(v) * w32
		}
	}
	o := out[from:]
	a := acc[:len(o)]
	for x := range o {
		v := a[x] >> shift
		if v < 0 {
			v = 0
		} else if v > 255 {
			v = 255
		}
		o[x] = uint8(v)
	}
}

// hpassGo is the horizontal pass over one row for outputs [from, len(out)): each output is
// the window of taps source pixels at its start, weighted, kept with 6 fractional bits
// (range −~80..~335 × 64 fits int16).
func hpassGo(out []int16, row []uint8, k *kernel, from int) {
	taps := k.taps
	for x := from; x < len(out); x++ {
		s := int(k.starts[x])
		ws := k.weights[x*taps : x*taps+taps]
		px := row[s : s+len(ws)]
		var sum int32
		for t, w := range ws {
			sum += int32(px[t]) * int32(w)
		}
		out[x] = int16((sum + 1<<7) >> 8)
	}
}
