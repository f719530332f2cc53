package imgproc

import (
	"image"
	"math"
	"math/bits"
	"sort"
	"sync"
)

// PHash is the DCT perceptual hash of an image (pHash.org's
// ph_dct_imagehash): luma resized to 32×32, 2-D DCT-II, the 8×8 block of
// lowest frequencies after skipping row 0 and column 0 (so the DC term and
// pure-horizontal/vertical averages do not dominate), each bit set where the
// coefficient exceeds the block's median. Alpha is composited on white and
// EXIF orientation is not applied here (Process applies it).
//
// Near-duplicates (re-encoded, resized, lightly edited) are typically within
// a Hamming distance of ~10; unrelated images are around 32.
func PHash(img image.Image) uint64 {
	p := planesFromImage(img)
	defer p.release()
	return phashPlane(p.y)
}

// HammingDistance is the number of differing bits between two hashes.
func HammingDistance(a, b uint64) int { return bits.OnesCount64(a ^ b) }

const phashN = 32

var dctTable = sync.OnceValue(func() *[phashN][phashN]float64 {
	var t [phashN][phashN]float64
	for k := 0; k < phashN; k++ {
		for n := 0; n < phashN; n++ {
			t[k][n] = math.Cos(math.Pi / phashN * (float64(n) + 0.5) * float64(k))
		}
	}
	return &t
})

func phashPlane(y plane) uint64 {
	if y.constant() {
		return 0
	}
	small := resizePlane(y, phashN, phashN)
	defer bytePool.put(small.pix)
	c := dctTable()

	// Only coefficients 1..8 in each direction are needed: rows first
	// (32×8 outputs), then columns (8×8).
	var rowsDCT [phashN][8]float64
	for r := 0; r < phashN; r++ {
		row := small.row(r)
		for k := 1; k <= 8; k++ {
			var s float64
			for n, v := range row {
				s += float64(v) * c[k][n]
			}
			rowsDCT[r][k-1] = s
		}
	}
	var coef [64]float64
	for k := 1; k <= 8; k++ {
		for col := 0; col < 8; col++ {
			var s float64
			for r := 0; r < phashN; r++ {
				s += rowsDCT[r][col] * c[k][r]
			}
			coef[(k-1)*8+col] = s
		}
	}
	sorted := coef
	sort.Float64s(sorted[:])
	median := (sorted[31] + sorted[32]) / 2
	var h uint64
	for i, v := range coef {
		if v > median {
			h |= 1 << (63 - i)
		}
	}
	return h
}
