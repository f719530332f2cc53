package querylist

import (
	"log/slog"
	"math"
)

// counter counts byte-string keys in bounded memory.
//
// When it holds maxKeys keys it prunes: it drops every key whose count is at
// most k, with k the smallest value that frees at least half the table
// (lossy counting). A key can therefore be under-counted by at most the sum
// of the k's of all prunes (lost), and a key whose true count is above lost
// always survives. With corpora that fit (no prune) counts are exact.
// Memory is about 50–60 bytes per key plus the key bytes.
type counter struct {
	name    string
	idx     map[string]int32
	counts  []uint32
	maxKeys int
	prunes  int
	lost    uint32 // upper bound of under-counting caused by pruning
}

func newCounter(name string, maxKeys int) *counter {
	if maxKeys <= 0 {
		maxKeys = math.MaxInt32 - 1
	}
	return &counter{name: name, idx: make(map[string]int32), maxKeys: maxKeys}
}

func (c *counter) add(key []byte) { c.addN(key, 1) }

func (c *counter) addN(key []byte, n uint32) {
	if i, ok := c.idx[string(key)]; ok {
		if v := c.counts[i] + n; v >= c.counts[i] {
			c.counts[i] = v
		} else {
			c.counts[i] = math.MaxUint32
		}
		return
	}
	if len(c.counts) >= c.maxKeys {
		c.prune()
	}
	c.idx[string(key)] = int32(len(c.counts))
	c.counts = append(c.counts, n)
}

func (c *counter) get(key string) uint32 {
	if i, ok := c.idx[key]; ok {
		return c.counts[i]
	}
	return 0
}

func (c *counter) len() int { return len(c.counts) }

// each calls f for every key with count >= min.
func (c *counter) each(min uint32, f func(key string, n uint32)) {
	for k, i := range c.idx {
		if c.counts[i] >= min {
			f(k, c.counts[i])
		}
	}
}

func (c *counter) prune() {
	const histMax = 1 << 16
	var hist [histMax + 1]int
	for _, v := range c.counts {
		hist[min(v, histMax)]++
	}
	target := len(c.counts) / 2
	k, dropped := uint32(0), 0
	for k < histMax && dropped < target {
		k++
		dropped += hist[k]
	}
	idx := make(map[string]int32, len(c.counts)-dropped+len(c.counts)/4)
	counts := make([]uint32, 0, cap(c.counts))
	for key, i := range c.idx {
		if v := c.counts[i]; v > k {
			idx[key] = int32(len(counts))
			counts = append(counts, v)
		}
	}
	before := len(c.counts)
	c.idx, c.counts = idx, counts
	c.prunes++
	if c.lost+k >= c.lost {
		c.lost += k
	}
	slog.Warn("querylist: count table full, pruned rare keys",
		"table", c.name, "keys_before", before, "keys_after", len(counts),
		"dropped_count_at_most", k, "max_undercount", c.lost)
}
