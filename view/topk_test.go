package view

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// randomUnitVectors returns n random unit vectors of dim values, row-major.
func randomUnitVectors(n, dim int, seed uint64) []float32 {
	rng := rand.New(rand.NewPCG(seed, seed+1))
	m := make([]float32, n*dim)
	for i := range m {
		m[i] = float32(rng.NormFloat64())
	}
	for r := range n {
		normalize(m[r*dim : (r+1)*dim])
	}
	return m
}

// bruteTopK is the obvious sort of every score: what topK must equal.
func bruteTopK(m []float32, dim int, q []float32, k int, skip func(int) bool) []Hit {
	var all []Hit
	for r := range len(m) / dim {
		if skip != nil && skip(r) {
			continue
		}
		var s float32
		for j := range dim {
			s += m[r*dim+j] * q[j]
		}
		all = append(all, Hit{Row: int64(r), Score: s})
	}
	slices.SortStableFunc(all, func(a, b Hit) int {
		switch {
		case a.Score > b.Score:
			return -1
		case a.Score < b.Score:
			return 1
		}
		return 0
	})
	return all[:min(k, len(all))]
}

func TestTopKMatchesBruteForce(t *testing.T) {
	for _, tc := range []struct{ n, dim, k int }{
		{1, 4, 3}, {10, 16, 10}, {1000, 33, 7}, {20000, 128, 10}, {50000, 64, 100},
	} {
		t.Run(fmt.Sprintf("n%d_d%d_k%d", tc.n, tc.dim, tc.k), func(t *testing.T) {
			m := randomUnitVectors(tc.n, tc.dim, uint64(tc.n))
			q := randomUnitVectors(1, tc.dim, 99)
			skip := func(r int) bool { return r%7 == 3 }
			got := topK(m, tc.dim, q, tc.k, skip)
			want := bruteTopK(m, tc.dim, q, tc.k, skip)
			if len(got) != len(want) {
				t.Fatalf("%d hits, want %d", len(got), len(want))
			}
			for i := range got {
				if got[i].Row != want[i].Row || abs32(got[i].Score-want[i].Score) > 1e-5 {
					t.Fatalf("hit %d: %+v, want %+v", i, got[i], want[i])
				}
				if skip(int(got[i].Row)) {
					t.Fatalf("skipped row %d returned", got[i].Row)
				}
			}
		})
	}
}

func abs32(x float32) float32 {
	if x < 0 {
		return -x
	}
	return x
}

// BenchmarkTopK: exact top-10 of one query over n random unit vectors of the embedding sizes of
// configs/clip-tiny.yaml (128), clip-small (256) and vit-b-32 (512).
func BenchmarkTopK(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		for _, dim := range []int{128, 256, 512} {
			b.Run(fmt.Sprintf("n=%d/dim=%d", n, dim), func(b *testing.B) {
				m := randomUnitVectors(n, dim, 1)
				q := randomUnitVectors(1, dim, 2)
				b.SetBytes(int64(len(m) * 4))
				b.ResetTimer()
				for b.Loop() {
					topK(m, dim, q, 10, nil)
				}
			})
		}
	}
}
