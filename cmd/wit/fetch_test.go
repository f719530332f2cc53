package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/witdata/wit/shards"
)

func TestFetchCommandFlags(t *testing.T) {
	cmd := newFetchCmd()
	for _, name := range []string{"in", "out", "url-col", "caption-col", "allow-private", "delay", "per-host", "workers", "timeout",
		"retries", "max-bytes", "size", "resize-mode", "quality", "min-size", "max-aspect", "max-pixels", "samples-per-shard",
		"max-shard-bytes", "retry-failed", "user-agent", "json", "allow-addr", "local-files", "max-image-memory"} {
		f := cmd.Flags().Lookup(name)
		if f == nil || f.Usage == "" {
			t.Errorf("flag --%s missing or undocumented", name)
		}
	}
	if err := cmd.Flags().Set("max-bytes", "1MiB"); err != nil {
		t.Fatal(err)
	}
	if f := cmd.Flags().Lookup("local-files"); f.DefValue != "false" {
		t.Errorf("--local-files defaults to %s", f.DefValue)
	}
}

// TestFetchCommandEndToEnd runs "wit fetch" on a list of local files with a config file whose
// size a flag overrides.
func TestFetchCommandEndToEnd(t *testing.T) {
	dir := t.TempDir()
	src, err := filepath.Abs("../../fetch/testdata/video-001.jpeg")
	if err != nil {
		t.Fatal(err)
	}
	list := filepath.Join(dir, "list.txt")
	os.WriteFile(list, []byte(src+"\nmissing.jpg\n"), 0o644)
	conf := filepath.Join(dir, "fetch.yaml")
	os.WriteFile(conf, []byte("size: 128\nquality: 90\n"), 0o644)
	// Without --local-files, local paths fail as local_disabled (and --allow-addr parses).
	refused := filepath.Join(dir, "refused")
	cmd := newFetchCmd()
	cmd.SetArgs([]string{"--in", list, "--out", refused, "--progress-every", "1h", "--allow-addr", "127.0.0.1:9,10.0.0.0/8"})
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st, err := os.ReadFile(filepath.Join(refused, "stats.json")); err != nil || !strings.Contains(string(st), `"local_disabled": 2`) {
		t.Fatalf("stats without --local-files: %v %s", err, st)
	}
	out := filepath.Join(dir, "shards")
	cmd = newFetchCmd()
	cmd.SetArgs([]string{"--config", conf, "--in", list, "--out", out, "--size", "48", "--progress-every", "1h", "--local-files"})
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	m, err := shards.ReadManifest(out)
	if err != nil || m.TotalCount != 1 {
		t.Fatalf("manifest %+v %v", m, err)
	}
	for rec, err := range shards.ReadDir(context.Background(), out, nil) {
		if err != nil {
			t.Fatal(err)
		}
		s, err := shards.SampleAt(rec, 0)
		if err != nil || s.Width != 48 {
			t.Fatalf("sample %v width %d, want the flag's 48 over the config's 128", err, s.Width)
		}
	}
	// Rerun: nothing left; --retry-failed with --in is refused.
	cmd = newFetchCmd()
	cmd.SetArgs([]string{"--in", list, "--out", out, "--retry-failed"})
	if err := cmd.ExecuteContext(context.Background()); err == nil {
		t.Fatal("--retry-failed with --in accepted")
	}
}
