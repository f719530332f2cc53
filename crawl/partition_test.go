package crawl

import (
	"testing"
)

func TestPartitionOf(t *testing.T) {
	tests := []struct{ a, b string }{
		{"www.example.co.uk", "example.co.uk"},
		{"cdn.example.org:8443", "example.org"},
		{"a.b.example.com", "www.example.com"},
	}
	for _, tt := range tests {
		for _, n := range []int{1, 7, 64} {
			if pa, pb := PartitionOf(tt.a, n), PartitionOf(tt.b, n); pa != pb || pa < 0 || pa >= n {
				t.Errorf("PartitionOf(%q, %d) = %d, PartitionOf(%q) = %d: one site, one partition", tt.a, n, pa, tt.b, pb)
			}
		}
	}
	seen := map[int]bool{}
	for i := range 200 {
		seen[PartitionOf("site"+string(rune('a'+i%26))+string(rune('a'+i/26))+".org", 16)] = true
	}
	if len(seen) < 12 {
		t.Errorf("200 sites fell into %d of 16 partitions", len(seen))
	}
}

// FuzzDecodeLinks: an outbox entry read back from the state store is decoded or refused with an
// error, never a panic, and what was encoded comes back equal.
func FuzzDecodeLinks(f *testing.F) {
	f.Add(encodeLinks([]Link{{URL: "https://a.org/x", Host: "a.org", Root: "a.org", Depth: 2}}))
	f.Add([]byte("[]"))
	f.Add([]byte("{"))
	f.Fuzz(func(t *testing.T, b []byte) {
		links, err := decodeLinks(b)
		if err != nil {
			return
		}
		again, err := decodeLinks(encodeLinks(links))
		if err != nil || len(again) != len(links) {
			t.Fatalf("round trip: %v, %d links, want %d", err, len(again), len(links))
		}
		for i := range links {
			if again[i] != links[i] {
				t.Fatalf("link %d: %+v, want %+v", i, again[i], links[i])
			}
		}
	})
}
