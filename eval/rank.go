package eval

import (
	"context"
	"runtime"
	"sync"
)

// outcome is where the best-scoring relevant candidate of one query lands among all candidates:
// above irrelevant candidates score strictly higher than it, tiedIrr irrelevant and tiedRel relevant
// ones (itself included) score exactly the same.
type outcome struct {
	above, tiedIrr, tiedRel int
}

// rankOutcome scores a query whose relevant candidates are relevant (indices into scores, ≥ 1).
func rankOutcome(scores []float32, relevant []int32) outcome {
	best := scores[relevant[0]]
	for _, r := range relevant[1:] {
		best = max(best, scores[r])
	}
	var o outcome
	tied := 0
	for _, s := range scores {
		if s > best {
			o.above++
		} else if s == best {
			tied++
		}
	}
	for _, r := range relevant {
		if scores[r] == best {
			o.tiedRel++
		}
	}
	o.tiedIrr = tied - o.tiedRel
	return o
}

// hit is the probability that a relevant candidate is among the first k when ties are broken
// uniformly at random. Counting ties optimistically would let a collapsed model (all embeddings
// equal, every score tied) score a perfect recall; pessimistically, a score of 0 even at k = N.
// The expectation gives exactly chance for a collapsed model, and the plain 0/1 answer without ties.
func (o outcome) hit(k int) float64 {
	slots := k - o.above // places left for the tied group
	if slots <= 0 {
		return 0
	}
	if slots > o.tiedIrr {
		return 1
	}
	// P(the first `slots` places of a random order of the tied group are all irrelevant).
	miss := 1.0
	for i := range slots {
		miss *= float64(o.tiedIrr-i) / float64(o.tiedIrr+o.tiedRel-i)
	}
	return 1 - miss
}

// rank is the expected 1-based rank of the first relevant candidate under random tie-breaking:
// the expected number of irrelevant candidates before the first of r relevant ones in a random
// order of the tied group is tiedIrr/(r+1).
func (o outcome) rank() float64 {
	return float64(o.above) + 1 + float64(o.tiedIrr)/float64(o.tiedRel+1)
}

// chanceHit is the recall@k of a random ranking of n candidates of which rel are relevant.
func chanceHit(k, n, rel int) float64 {
	return outcome{tiedIrr: n - rel, tiedRel: rel}.hit(k)
}

// queryBlock is how many queries share one pass over the gallery: each gallery row is loaded once
// per block and reused from L1 cache for every query of the block.
const queryBlock = 16

// scoreAll computes the inner products of every query row with every gallery row and calls
// visit(q, scores) for each query, from up to GOMAXPROCS goroutines at once (visit must be safe for
// that; scores is reused after it returns). Rows are expected to be normalised, so scores are
// cosine similarities. It stops early, returning ctx.Err(), when ctx is cancelled.
func scoreAll(ctx context.Context, queries, gallery *Matrix, visit func(q int, scores []float32)) error {
	if queries.Rows == 0 || gallery.Rows == 0 {
		return nil
	}
	blocks := (queries.Rows + queryBlock - 1) / queryBlock
	workers := min(runtime.GOMAXPROCS(0), blocks)
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]float32, queryBlock*gallery.Rows)
			for b := range next {
				lo, hi := b*queryBlock, min((b+1)*queryBlock, queries.Rows)
				scoreBlock(queries, gallery, lo, hi, buf)
				for q := lo; q < hi; q++ {
					visit(q, buf[(q-lo)*gallery.Rows:(q-lo+1)*gallery.Rows])
				}
			}
		}()
	}
	var err error
feed:
	for b := range blocks {
		select {
		case next <- b:
		case <-ctx.Done():
			err = ctx.Err()
			break feed
		}
	}
	close(next)
	wg.Wait()
	return err
}

// scoreBlock writes the scores of queries lo..hi-1 against every gallery row into buf (row-major,
// one gallery-length row per query). Four queries share each pass over a gallery row, so every
// gallery value loaded from memory feeds four multiply-adds.
func scoreBlock(queries, gallery *Matrix, lo, hi int, buf []float32) {
	n := gallery.Rows
	for g := range n {
		grow := gallery.Row(g)
		q := lo
		for ; q+4 <= hi; q += 4 {
			s0, s1, s2, s3 := dot4(queries.Row(q), queries.Row(q+1), queries.Row(q+2), queries.Row(q+3), grow)
			o := (q-lo)*n + g
			buf[o], buf[o+n], buf[o+2*n], buf[o+3*n] = s0, s1, s2, s3
		}
		for ; q < hi; q++ {
			buf[(q-lo)*n+g] = dot(queries.Row(q), grow)
		}
	}
}

// dot4 is four inner products with one shared right-hand side.
func dot4(a0, a1, a2, a3, b []float32) (s0, s1, s2, s3 float32) {
	n := len(b)
	a0, a1, a2, a3 = a0[:n], a1[:n], a2[:n], a3[:n]
	for i, x := range b {
		s0 += a0[i] * x
		s1 += a1[i] * x
		s2 += a2[i] * x
		s3 += a3[i] * x
	}
	return
}
