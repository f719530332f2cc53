package hostq

import (
	"fmt"
	"slices"
	"testing"
)

// takeAll hands out every ready item, returning them in order.
func takeAll(q *Queue[string]) []string {
	var out []string
	for {
		v, ok := q.Next()
		if !ok {
			return out
		}
		q.Take()
		out = append(out, v)
	}
}

func TestQueue(t *testing.T) {
	for _, tc := range []struct {
		name    string
		perHost int
		add     []string // "host/item"
		want    []string // handed out before any Done
	}{
		{"one host stops at its limit", 2, []string{"a/1", "a/2", "a/3"}, []string{"a/1", "a/2"}},
		{"a run of one host does not hide the next", 1, []string{"a/1", "a/2", "a/3", "b/1", "b/2", "c/1"}, []string{"a/1", "b/1", "c/1"}},
		{"hosts take turns", 2, []string{"a/1", "a/2", "a/3", "b/1", "b/2"}, []string{"a/1", "b/1", "a/2", "b/2"}},
		{"local items are not limited", 1, []string{"/1", "/2", "/3"}, []string{"/1", "/2", "/3"}},
		{"a limit below 1 is 1", 0, []string{"a/1", "a/2"}, []string{"a/1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := New[string](tc.perHost)
			for _, s := range tc.add {
				host, _, _ := cut(s)
				q.Add(host, s)
			}
			if got := takeAll(q); !slices.Equal(got, tc.want) {
				t.Errorf("handed out %v, want %v", got, tc.want)
			}
			if q.Len() != len(tc.add)-len(tc.want) {
				t.Errorf("Len %d, want %d", q.Len(), len(tc.add)-len(tc.want))
			}
		})
	}
}

func cut(s string) (host, item string, ok bool) {
	for i := range len(s) {
		if s[i] == '/' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// TestQueueDone: a finished item frees its host's slot; every item comes out once, in per-host
// order, never more than perHost of a host out at once; empty hosts are forgotten.
func TestQueueDone(t *testing.T) {
	const perHost = 2
	q := New[string](perHost)
	want := map[string][]string{}
	for i := range 60 {
		host := fmt.Sprint("h", i%3)
		if i >= 30 {
			host = "h0" // a long run of one host at the end
		}
		item := fmt.Sprint(host, "/", i)
		q.Add(host, item)
		want[host] = append(want[host], item)
	}
	got := map[string][]string{}
	out := map[string]int{}
	var pending []string
	for q.Len() > 0 || len(pending) > 0 {
		for {
			v, ok := q.Next()
			if !ok {
				break
			}
			q.Take()
			host, _, _ := cut(v)
			got[host] = append(got[host], v)
			if out[host]++; out[host] > perHost {
				t.Fatalf("%d items of %s out at once", out[host], host)
			}
			pending = append(pending, host)
		}
		if len(pending) == 0 {
			t.Fatalf("nothing ready with %d queued", q.Len())
		}
		host := pending[0] // finish the oldest
		pending = pending[1:]
		out[host]--
		q.Done(host)
	}
	for host, w := range want {
		if !slices.Equal(got[host], w) {
			t.Errorf("%s: %v, want %v", host, got[host], w)
		}
	}
	if q.Hosts() != 0 || len(q.ready) != 0 {
		t.Errorf("left: %d hosts, %d ready", q.Hosts(), len(q.ready))
	}
	q.Done("unknown") // a stray Done changes nothing
	if q.Hosts() != 0 {
		t.Error("a stray Done made a host")
	}
}

func BenchmarkQueue(b *testing.B) {
	q := New[int](2)
	hosts := make([]string, 64)
	for i := range hosts {
		hosts[i] = fmt.Sprint("host", i)
	}
	b.ReportAllocs()
	hostOf := func(i int) string { return hosts[(i/8)%len(hosts)] } // runs of 8 items per host
	i := 0
	for b.Loop() {
		q.Add(hostOf(i), i)
		if v, ok := q.Next(); ok {
			q.Take()
			q.Done(hostOf(v))
		}
		i++
	}
}
