package fetch

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"testing"

	"github.com/witdata/wit/internal/storage"
	"github.com/witdata/wit/shards"
)

// TestReadRecorded: the records of a shard range are summed; a record whose shard was never
// committed, and records outside the range, are not.
func TestReadRecorded(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, v any) {
		t.Helper()
		if err := storage.WriteJSON(context.Background(), filepath.Join(dir, name), v); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, shards.FileName(10)), make([]byte, 100), 0o644); err != nil {
		t.Fatal(err)
	}
	write(shards.StatsName(10), shards.ShardStats{File: shards.FileName(10), Count: 6, Successes: 5, Bytes: 100,
		Failures: map[string]int64{"http_404": 1}, DownloadedBytes: 700})
	write(shards.StatsName(11), shards.ShardStats{File: shards.FileName(11), Count: 5, Successes: 5, Bytes: 90}) // shard never renamed in
	write(shards.StatsName(12), shards.ShardStats{Count: 3, Failures: map[string]int64{"http_404": 2, "decode": 1}, DownloadedBytes: 50})
	write(shards.StatsName(20), shards.ShardStats{Count: 7, Failures: map[string]int64{"decode": 7}}) // another slice's

	for _, tc := range []struct {
		first, limit int
		want         Recorded
	}{
		{10, 20, Recorded{Items: 9, Successes: 5, Failures: map[string]int64{"http_404": 3, "decode": 1}, Shards: 1, Bytes: 100, Downloaded: 750}},
		{0, 0, Recorded{Items: 16, Successes: 5, Failures: map[string]int64{"http_404": 3, "decode": 8}, Shards: 1, Bytes: 100, Downloaded: 750}},
		{21, 30, Recorded{Failures: map[string]int64{}}},
	} {
		got, err := ReadRecorded(context.Background(), dir, tc.first, tc.limit)
		if err != nil {
			t.Fatal(err)
		}
		if got.Items != tc.want.Items || got.Successes != tc.want.Successes || got.Shards != tc.want.Shards ||
			got.Bytes != tc.want.Bytes || got.Downloaded != tc.want.Downloaded || !maps.Equal(got.Failures, tc.want.Failures) {
			t.Errorf("[%d, %d): %+v, want %+v", tc.first, tc.limit, got, tc.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, shards.StatsName(11))); err != nil {
		t.Errorf("reading changed the folder: %v", err)
	}

	before, _ := ReadRecorded(context.Background(), dir, 10, 20)
	write(shards.StatsName(13), shards.ShardStats{Count: 2, Failures: map[string]int64{"decode": 2}})
	after, _ := ReadRecorded(context.Background(), dir, 10, 20)
	if d := after.Since(before); d.Items != 2 || d.Failed() != 2 || !maps.Equal(d.Failures, map[string]int64{"decode": 2}) {
		t.Errorf("since: %+v", d)
	}
	if none, err := ReadRecorded(context.Background(), filepath.Join(dir, "missing"), 0, 0); err != nil || none.Items != 0 {
		t.Errorf("a missing folder: %+v, %v", none, err)
	}
}

func TestShardRangeListPrefix(t *testing.T) {
	for _, tc := range []struct {
		first, limit int
		want         string
	}{
		{0, 0, ""},
		{0, 24, "000"},
		{10, 20, "0001"},
		{1600, 1616, "016"},
		{99990, 100010, ""}, // 5 and 6 digits
		{100000, 100016, "1000"},
		{7, 8, "00007"},
	} {
		r := shardRange(tc.first, tc.limit)
		got := r.listPrefix()
		if got != tc.want {
			t.Errorf("[%d, %d): %q, want %q", tc.first, tc.limit, got, tc.want)
		}
		for n := tc.first; n < tc.limit; n++ { // every name of the range is listed
			for _, name := range []string{shards.FileName(n), shards.StatsName(n), shards.FailedName(n)} {
				if len(name) < len(got) || name[:len(got)] != got {
					t.Fatalf("[%d, %d): %s does not start with %q", tc.first, tc.limit, name, got)
				}
			}
		}
	}
}
