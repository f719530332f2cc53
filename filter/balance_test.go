package filter

import (
	"math"
	"math/rand/v2"
	"os"
	"testing"
)

// zipfPool makes a skewed pool: entry i has about n/(i+1)^1.1 single-entry pairs, plus pairs
// that match two entries.
func zipfPool(seed uint64) (pairs []struct {
	key uint64
	ids []int32
}, counts []int32) {
	const entries = 300
	rng := rand.New(rand.NewPCG(seed, 1))
	counts = make([]int32, entries)
	k := uint64(0)
	add := func(ids ...int32) {
		k++
		pairs = append(pairs, struct {
			key uint64
			ids []int32
		}{k * 0x9E3779B97F4A7C15, ids})
		for _, id := range ids {
			counts[id]++
		}
	}
	for i := range entries {
		n := int(60000 / math.Pow(float64(i+1), 1.1))
		for range n {
			add(int32(i))
		}
	}
	for range 5000 {
		a, b := int32(rng.IntN(entries)), int32(rng.IntN(entries))
		if a != b {
			add(a, b)
		}
	}
	return pairs, counts
}

func TestExactBalancerZipf(t *testing.T) {
	const T = 2000
	pairs, counts := zipfPool(1)
	b := &ExactBalancer{T: T, Seed: 42, Counts: counts}
	keptPerEntry := make([]int, len(counts))
	keptSingle := make([]int, len(counts))
	single := make([]int, len(counts))
	kept := make([]bool, len(pairs))
	for i, p := range pairs {
		kept[i] = b.Keep(p.key, p.ids)
		if len(p.ids) == 1 {
			single[p.ids[0]]++
		}
		if kept[i] {
			for _, id := range p.ids {
				keptPerEntry[id]++
			}
			if len(p.ids) == 1 {
				keptSingle[p.ids[0]]++
			}
		}
	}
	over := 0
	for id, c := range counts {
		p := KeepProbability(T, int64(c))
		// single-entry pairs are kept with exactly p: binomial mean and sd
		mean := p * float64(single[id])
		sd := math.Sqrt(float64(single[id]) * p * (1 - p))
		if d := math.Abs(float64(keptSingle[id]) - mean); d > 5*sd+1 {
			t.Errorf("entry %d (count %d): kept %d single pairs, want %.0f ± %.0f", id, c, keptSingle[id], mean, 5*sd)
		}
		if int(c) > T {
			over++
			// with the two-entry pairs kept through their other entry, an entry ends a little above t
			if k := keptPerEntry[id]; float64(k) > 1.15*T || float64(k) < 0.9*T {
				t.Errorf("head entry %d (count %d) kept %d, want about t=%d", id, c, k, T)
			}
		} else if keptPerEntry[id] != int(c) {
			t.Errorf("tail entry %d (count %d) kept %d, want all", id, c, keptPerEntry[id])
		}
	}
	if over < 10 {
		t.Fatalf("pool not skewed enough: %d entries over t", over)
	}

	// deterministic per seed, independent of order
	b2 := &ExactBalancer{T: T, Seed: 42, Counts: counts}
	for i := len(pairs) - 1; i >= 0; i-- {
		if b2.Keep(pairs[i].key, pairs[i].ids) != kept[i] {
			t.Fatalf("pair %d decided differently in reverse order", i)
		}
	}
	b3 := &ExactBalancer{T: T, Seed: 43, Counts: counts}
	diff := 0
	for i, p := range pairs {
		if b3.Keep(p.key, p.ids) != kept[i] {
			diff++
		}
	}
	if diff == 0 {
		t.Error("another seed gave the same sample")
	}
}

func TestOnlineBalancer(t *testing.T) {
	const T = 500
	dir := t.TempDir()
	entries := []string{"dog", "cat", "rare"}
	entry := func(id int32) string { return entries[id] }
	b, err := OpenOnlineBalancer(dir, T, 7, len(entries), entry)
	if err != nil {
		t.Fatal(err)
	}
	kept := [3]int{}
	const nDog = 10 * T
	for i := range nDog {
		if b.Keep(uint64(i)*0x9E3779B97F4A7C15, []int32{0}) {
			kept[0]++
		}
	}
	for i := range 100 {
		if b.Keep(uint64(i+1<<40), []int32{2}) {
			kept[2]++
		}
	}
	// expected t·(1 + ln(N/t)) for the head entry (the documented bias), all of the tail
	want := T * (1 + math.Log(float64(nDog)/T))
	if math.Abs(float64(kept[0])-want) > 0.1*want {
		t.Errorf("online head entry kept %d, want about %.0f", kept[0], want)
	}
	if kept[2] != 100 {
		t.Errorf("tail entry kept %d of 100", kept[2])
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	// the running counts survive a restart
	b, err = OpenOnlineBalancer(dir, T, 7, len(entries), entry)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.Counts[0] != nDog || b.Counts[2] != 100 || b.Counts[1] != 0 {
		t.Errorf("reopened counts %v", b.Counts)
	}
}

func TestCoinUniform(t *testing.T) {
	const n = 100000
	below := 0
	for i := range n {
		if Coin(1, uint64(i), 3) < 0.25 {
			below++
		}
	}
	if math.Abs(float64(below)/n-0.25) > 0.01 {
		t.Errorf("coin not uniform: %d of %d below 0.25", below, n)
	}
}

func TestDeduper(t *testing.T) {
	d, err := NewDeduper("")
	if err != nil {
		t.Fatal(err)
	}
	dir := d.dir
	for i := range 20000 {
		seen, err := d.Seen(PairKey("http://x/"+string(rune('a'+i%26)), string(rune(i))))
		if err != nil || seen {
			t.Fatalf("%d: seen=%v err=%v", i, seen, err)
		}
	}
	if seen, _ := d.Seen(PairKey("http://x/a", string(rune(0)))); !seen {
		t.Error("repeat not seen")
	}
	if PairKey("ab", "c") == PairKey("a", "bc") {
		t.Error("pair key ambiguous")
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("temp dedup dir left: %v", err)
	}
}
