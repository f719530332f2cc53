package filter

import "sync"

// lruCache is a bounded least-recently-used map from a 64-bit key to a small value, safe for
// concurrent use. Entries live in one slice linked by int32 indices, so a full cache of n
// entries costs about n*(24 + 16) bytes and no allocation per hit or eviction.
type lruCache[V any] struct {
	mu         sync.Mutex
	index      map[uint64]int32
	nodes      []lruNode[V]
	head, tail int32 // most and least recently used; -1 when empty
	capacity   int
	hits, miss int64
}

type lruNode[V any] struct {
	key        uint64
	val        V
	prev, next int32
}

func newLRU[V any](capacity int) *lruCache[V] {
	if capacity < 1 {
		capacity = 1
	}
	return &lruCache[V]{index: make(map[uint64]int32, capacity), capacity: capacity, head: -1, tail: -1}
}

func (c *lruCache[V]) Get(key uint64) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	i, ok := c.index[key]
	if !ok {
		c.miss++
		var zero V
		return zero, false
	}
	c.hits++
	c.moveToFront(i)
	return c.nodes[i].val, true
}

func (c *lruCache[V]) Put(key uint64, val V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if i, ok := c.index[key]; ok {
		c.nodes[i].val = val
		c.moveToFront(i)
		return
	}
	var i int32
	if len(c.nodes) < c.capacity {
		i = int32(len(c.nodes))
		c.nodes = append(c.nodes, lruNode[V]{})
	} else {
		i = c.tail // evict the least recently used node and reuse its slot
		delete(c.index, c.nodes[i].key)
		c.unlink(i)
	}
	c.nodes[i] = lruNode[V]{key: key, val: val, prev: -1, next: -1}
	c.index[key] = i
	c.pushFront(i)
}

func (c *lruCache[V]) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.index)
}

// Stats returns the hit and miss counts so far.
func (c *lruCache[V]) Stats() (hits, misses int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hits, c.miss
}

func (c *lruCache[V]) moveToFront(i int32) {
	if c.head == i {
		return
	}
	c.unlink(i)
	c.pushFront(i)
}

func (c *lruCache[V]) unlink(i int32) {
	n := &c.nodes[i]
	if n.prev >= 0 {
		c.nodes[n.prev].next = n.next
	} else {
		c.head = n.next
	}
	if n.next >= 0 {
		c.nodes[n.next].prev = n.prev
	} else {
		c.tail = n.prev
	}
	n.prev, n.next = -1, -1
}

func (c *lruCache[V]) pushFront(i int32) {
	n := &c.nodes[i]
	n.prev = -1
	n.next = c.head
	if c.head >= 0 {
		c.nodes[c.head].prev = i
	}
	c.head = i
	if c.tail < 0 {
		c.tail = i
	}
}
