package view

import (
	"math"
	"runtime"
	"slices"
	"sync"
)

// Hit is one search result: a dataset row and its cosine similarity with the query.
type Hit struct {
	Row   int64   `json:"row"`
	Score float32 `json:"score"`
}

// topK returns the k rows of the row-major matrix m (rows of dim values) with the largest dot
// product with q, best first, leaving out rows for which skip returns true (skip may be nil). It
// is an exact scan: the rows are split into one contiguous range per CPU, each range keeps its own
// k best in a min-heap (a row is compared with the heap's smallest before anything else), and the
// ranges' heaps are merged. One query streams the matrix once, so it is bound by memory bandwidth.
func topK(m []float32, dim int, q []float32, k int, skip func(row int) bool) []Hit {
	n := len(m) / dim
	if k <= 0 || n == 0 {
		return nil
	}
	q = q[:dim]
	workers := min(runtime.GOMAXPROCS(0), max(1, n/4096))
	per := (n + workers - 1) / workers
	heaps := make([]hitHeap, workers)
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := w*per, min(n, (w+1)*per)
		wg.Go(func() {
			h := hitHeap{k: k}
			for r := lo; r < hi; r++ {
				s := dot(m[r*dim:(r+1)*dim], q)
				if len(h.hits) == k && s <= h.hits[0].Score {
					continue
				}
				if skip != nil && skip(r) {
					continue
				}
				h.push(Hit{Row: int64(r), Score: s})
			}
			heaps[w] = h
		})
	}
	wg.Wait()
	var all []Hit
	for _, h := range heaps {
		all = append(all, h.hits...)
	}
	slices.SortFunc(all, func(a, b Hit) int {
		switch {
		case a.Score > b.Score:
			return -1
		case a.Score < b.Score:
			return 1
		}
		return int(a.Row - b.Row)
	})
	return all[:min(k, len(all))]
}

// dot is the dot product of two equally long vectors; four accumulators let the CPU overlap the
// multiply-adds.
func dot(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+8 <= len(a); i += 8 {
		aa, bb := a[i:i+8:i+8], b[i:i+8:i+8]
		s0 += aa[0]*bb[0] + aa[4]*bb[4]
		s1 += aa[1]*bb[1] + aa[5]*bb[5]
		s2 += aa[2]*bb[2] + aa[6]*bb[6]
		s3 += aa[3]*bb[3] + aa[7]*bb[7]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// normalize scales v to unit length in place (an all-zero vector stays zero).
func normalize(v []float32) {
	var ss float64
	for _, x := range v {
		ss += float64(x) * float64(x)
	}
	if ss == 0 {
		return
	}
	inv := float32(1 / math.Sqrt(ss))
	for i := range v {
		v[i] *= inv
	}
}

// hitHeap keeps the k best hits seen, the worst at hits[0].
type hitHeap struct {
	k    int
	hits []Hit
}

func (h *hitHeap) push(x Hit) {
	if len(h.hits) < h.k {
		h.hits = append(h.hits, x)
		for i := len(h.hits) - 1; i > 0; {
			p := (i - 1) / 2
			if h.hits[p].Score <= h.hits[i].Score {
				break
			}
			h.hits[p], h.hits[i] = h.hits[i], h.hits[p]
			i = p
		}
		return
	}
	h.hits[0] = x
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(h.hits) && h.hits[l].Score < h.hits[m].Score {
			m = l
		}
		if r < len(h.hits) && h.hits[r].Score < h.hits[m].Score {
			m = r
		}
		if m == i {
			return
		}
		h.hits[m], h.hits[i] = h.hits[i], h.hits[m]
		i = m
	}
}
