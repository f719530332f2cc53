package main

import (
	stdcontext "context"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/witdata/wit/cc"
	"github.com/witdata/wit/demo"
	"github.com/witdata/wit/internal/storage"
	"github.com/witdata/wit/internal/storage/s3test"
	"github.com/witdata/wit/shards"
)

// TestCCObjectStorage runs wit crawl --warc-out s3://... and wit cc from that archive to
// s3://...: the flags reach the stages, and cc gives the pairs the crawl wrote.
func TestCCObjectStorage(t *testing.T) {
	ctx := stdcontext.Background()
	srv, bucket := s3test.Start(t, "wit")
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	site, err := demo.NewSite(6)
	if err != nil {
		t.Fatal(err)
	}
	web, base, err := demo.Serve(site)
	if err != nil {
		t.Fatal(err)
	}
	defer web.Close()
	local := t.TempDir()
	seeds := storage.Join(bucket, "seeds.txt")
	if err := storage.WriteFile(ctx, seeds, []byte(base+"/\n")); err != nil {
		t.Fatal(err)
	}
	pairs, archive, ccOut := filepath.Join(local, "pairs"), storage.Join(bucket, "warc"), storage.Join(bucket, "cc")
	runCLI(t, newCrawlCmd(), "--seeds", seeds, "--out", pairs, "--state", filepath.Join(local, "state"), "--warc-out", archive,
		"--allow-private", "--delay", "0", "--per-host", "4", "--workers", "4", "--max-depth", "-1", "--quiet")
	runCLI(t, newCCCmd(), "--in", archive, "--out", ccOut, "--workers", "2", "--quiet")

	pairSet := func(dir string) []string {
		t.Helper()
		var out []string
		for rec, err := range shards.ReadDir(ctx, dir, nil) {
			if err != nil {
				t.Fatal(err)
			}
			ps, err := shards.Pairs(rec)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range ps {
				out = append(out, p.PageURL+" "+p.ImageURL+" "+p.CaptionSource+" "+p.Caption)
			}
		}
		slices.Sort(out)
		return slices.Compact(out)
	}
	live, fromArchive := pairSet(pairs), pairSet(ccOut)
	if len(live) == 0 || !slices.Equal(live, fromArchive) {
		t.Fatalf("the crawl wrote %d pairs, cc read %d from its archive:\n%v\n%v", len(live), len(fromArchive), live, fromArchive)
	}
	var st cc.Stats
	data, err := storage.ReadFile(ctx, storage.Join(ccOut, cc.StatsFile))
	if err != nil || json.Unmarshal(data, &st) != nil {
		t.Fatalf("cc stats: %v %s", err, data)
	}
	var archived int64
	for _, k := range srv.Keys(t, "wit") {
		switch {
		case strings.HasPrefix(k, "warc/") && strings.HasSuffix(k, ".warc.gz"):
			archived++
		case k == "seeds.txt", k == "cc/"+cc.StatsFile, strings.HasPrefix(k, "cc/") && strings.HasSuffix(k, shards.Ext):
		default:
			t.Fatalf("stray object %s", k)
		}
	}
	if archived == 0 || st.Files != archived || st.FilesFailed != 0 {
		t.Fatalf("cc read %d of %d archive files (%d failed)", st.Files, archived, st.FilesFailed)
	}
}
