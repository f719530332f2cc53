package tokenizer

import (
	"container/heap"
	"fmt"
	"iter"
	"slices"
	"strings"
)

// DefaultVocabSize is the vocabulary size `wit tokenizer train` aims for (clip-tiny's vocab_size).
const DefaultVocabSize = 8192

// Counter accumulates pre-tokenised piece counts from captions; Train learns merges from them.
type Counter struct {
	counts   map[string]int64
	captions int64
}

// NewCounter returns an empty Counter.
func NewCounter() *Counter { return &Counter{counts: make(map[string]int64)} }

// Add counts the pieces of one caption (lower-cased as Encode does).
func (c *Counter) Add(caption string) {
	c.captions++
	for p := range pieces(strings.ToLower(caption)) {
		c.counts[p]++
	}
}

// AddAll counts the captions of a sequence (the caller builds it: shards.Captions reads a shard
// folder's), stopping once max captions have been counted in all when max > 0.
func (c *Counter) AddAll(captions iter.Seq[string], max int64) {
	if max > 0 && c.captions >= max {
		return
	}
	for s := range captions {
		c.Add(s)
		if max > 0 && c.captions >= max {
			return
		}
	}
}

// Captions is the number of captions added.
func (c *Counter) Captions() int64 { return c.captions }

// Pieces is the number of distinct pieces seen.
func (c *Counter) Pieces() int { return len(c.counts) }

// TrainOptions configures BPE training.
type TrainOptions struct {
	VocabSize    int // total ids including the 256 bytes and 2 special tokens (default DefaultVocabSize)
	MinFrequency int // a pair seen fewer times is never merged (default 2)
}

// Train learns up to VocabSize-258 merges. It stops early when no pair reaches MinFrequency, so the
// tokenizer may be smaller than asked (VocabSize() says how large it is).
func (c *Counter) Train(opts TrainOptions) (*Tokenizer, error) {
	if opts.VocabSize == 0 {
		opts.VocabSize = DefaultVocabSize
	}
	if opts.MinFrequency <= 0 {
		opts.MinFrequency = 2
	}
	if opts.VocabSize < 258 {
		return nil, fmt.Errorf("tokenizer: vocab size %d < 258 (256 bytes + 2 special tokens)", opts.VocabSize)
	}
	if len(c.counts) == 0 {
		return nil, errEmpty
	}
	b := newBuilder(c.counts)
	merges := b.run(opts.VocabSize-258, int64(opts.MinFrequency))
	return newFromMerges(merges)
}

// builder holds the incremental state of BPE training.
type builder struct {
	syms   [][]int32 // word → current symbols
	counts []int64   // word → occurrences
	pairs  map[pair]int64
	where  map[pair][]int32 // pair → words that contained it at some point (superset, may repeat)
	seen   []int32          // word → last merge that visited it (dedupes where lists)
	delta  map[pair]int64
	h      pairHeap
}

func newBuilder(counts map[string]int64) *builder {
	words := make([]string, 0, len(counts))
	for w := range counts {
		words = append(words, w)
	}
	slices.Sort(words) // map order is random; training must not be
	b := &builder{
		syms:   make([][]int32, len(words)),
		counts: make([]int64, len(words)),
		pairs:  make(map[pair]int64),
		where:  make(map[pair][]int32),
		seen:   make([]int32, len(words)),
		delta:  make(map[pair]int64),
	}
	for wi, w := range words {
		s := make([]int32, len(w))
		for i := 0; i < len(w); i++ {
			s[i] = int32(w[i])
		}
		b.syms[wi], b.counts[wi] = s, counts[w]
		b.seen[wi] = -1
		for i := 0; i+1 < len(s); i++ {
			p := mkpair(s[i], s[i+1])
			b.pairs[p] += counts[w]
			b.addWhere(p, int32(wi))
		}
	}
	b.h = make(pairHeap, 0, len(b.pairs))
	for p, n := range b.pairs {
		b.h = append(b.h, pairCount{n, p})
	}
	heap.Init(&b.h)
	return b
}

func (b *builder) addWhere(p pair, w int32) {
	if l := b.where[p]; len(l) == 0 || l[len(l)-1] != w {
		b.where[p] = append(l, w)
	}
}

// run performs up to n merges and returns them in order.
func (b *builder) run(n int, minFreq int64) []pair {
	var merges []pair
	for len(merges) < n && b.h.Len() > 0 {
		top := heap.Pop(&b.h).(pairCount)
		if cur := b.pairs[top.p]; cur != top.n {
			continue // stale: a fresher entry with the current count is in the heap
		}
		if top.n < minFreq {
			break
		}
		mi := int32(len(merges))
		id := int32(256) + mi
		merges = append(merges, top.p)
		b.merge(top.p, id, mi)
	}
	return merges
}

// merge replaces p by id in every word holding it, updating pair counts by the difference only.
func (b *builder) merge(p pair, id, mi int32) {
	l, r := p.split()
	clear(b.delta)
	for _, w := range b.where[p] {
		if b.seen[w] == mi {
			continue
		}
		b.seen[w] = mi
		s := b.syms[w]
		c := b.counts[w]
		found := false
		for i := 0; i+1 < len(s); i++ {
			if s[i] == l && s[i+1] == r {
				found = true
				break
			}
		}
		if !found {
			continue
		}
		for i := 0; i+1 < len(s); i++ {
			b.delta[mkpair(s[i], s[i+1])] -= c
		}
		out := s[:0]
		for i := 0; i < len(s); i++ {
			if i+1 < len(s) && s[i] == l && s[i+1] == r {
				out = append(out, id)
				i++
			} else {
				out = append(out, s[i])
			}
		}
		b.syms[w] = out
		for i := 0; i+1 < len(out); i++ {
			q := mkpair(out[i], out[i+1])
			b.delta[q] += c
			if out[i] == id || out[i+1] == id { // only pairs with the new id are new to this word
				b.addWhere(q, w)
			}
		}
	}
	for q, d := range b.delta {
		if d == 0 {
			continue
		}
		n := b.pairs[q] + d
		if n <= 0 {
			delete(b.pairs, q)
			continue
		}
		b.pairs[q] = n
		heap.Push(&b.h, pairCount{n, q})
	}
	delete(b.pairs, p)
	delete(b.where, p)
}

type pairCount struct {
	n int64
	p pair
}

// pairHeap is a max-heap on count; ties go to the smaller pair (deterministic).
type pairHeap []pairCount

func (h pairHeap) Len() int { return len(h) }
func (h pairHeap) Less(i, j int) bool {
	return h[i].n > h[j].n || h[i].n == h[j].n && h[i].p < h[j].p
}
func (h pairHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *pairHeap) Push(x any)   { *h = append(*h, x.(pairCount)) }
func (h *pairHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// Train learns a tokenizer from captions.
func Train(captions []string, opts TrainOptions) (*Tokenizer, error) {
	c := NewCounter()
	c.AddAll(slices.Values(captions), 0)
	return c.Train(opts)
}
