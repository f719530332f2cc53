package main

import (
	"bytes"
	stdcontext "context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/witdata/wit/demo"
	"github.com/witdata/wit/internal/storage"
	"github.com/witdata/wit/internal/storage/s3test"
	"github.com/witdata/wit/shards"
)

// storageTestPreset is a model small enough to compile and step in seconds.
const storageTestPreset = `model:
  name: storage-test
  embed_dim: 16
  image_resolution: 16
  vision_layers: 1
  vision_width: 16
  vision_patch_size: 8
  vision_heads: 2
  context_length: 12
  vocab_size: 300
  transformer_width: 16
  transformer_heads: 2
  transformer_layers: 1
train:
  batch_size: 8
  learning_rate: 0.001
  min_learning_rate: 0.0001
  warmup_steps: 1
  steps: 3
  weight_decay: 0.2
  beta1: 0.9
  beta2: 0.98
  epsilon: 1.0e-6
`

// runCLI runs one wit command on a fresh command tree and returns its stdout.
func runCLI(t *testing.T, cmd *cobra.Command, args ...string) string {
	t.Helper()
	cmd.SetArgs(args)
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(io.Discard)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	if err := cmd.ExecuteContext(stdcontext.Background()); err != nil {
		t.Fatalf("wit %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	return out.String()
}

// TestObjectStoragePipeline runs crawl -> filter -> fetch -> shards verify -> train with every
// input and output in the in-process S3 server (the seed list included); only crawl's state and
// the training run folder are local.
func TestObjectStoragePipeline(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end, compiles a model")
	}
	ctx := stdcontext.Background()
	_, bucket := s3test.Start(t, "wit")
	site, err := demo.NewSite(12)
	if err != nil {
		t.Fatal(err)
	}
	srv, base, err := demo.Serve(site)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	local := t.TempDir()
	seeds := storage.Join(bucket, "in/seeds.txt")
	if err := storage.WriteFile(ctx, seeds, []byte(base+"/\n")); err != nil {
		t.Fatal(err)
	}
	pairs, filtered, shardsURL := storage.Join(bucket, "pairs"), storage.Join(bucket, "filtered"), storage.Join(bucket, "shards")

	runCLI(t, newCrawlCmd(), "--seeds", seeds, "--out", pairs, "--state", filepath.Join(local, "state"),
		"--allow-private", "--delay", "0", "--per-host", "8", "--workers", "8", "--max-depth", "-1", "--quiet")
	files, err := shards.ListFiles(pairs)
	if err != nil || len(files) == 0 {
		t.Fatalf("crawl wrote %v, %v", files, err)
	}
	if _, err := storage.Stat(ctx, storage.Join(pairs, "stats.json")); err != nil {
		t.Fatalf("crawl stats: %v", err)
	}

	runCLI(t, newFilterCmd(), "--in", pairs, "--out", filtered, "--queries", "default", "--no-language", "--balance", "0")
	d, _ := storage.Open(ctx, filtered)
	entries, _ := d.List(ctx, "")
	if err := storage.CheckComplete(filtered, entries); err != nil {
		t.Fatal(err)
	}

	runCLI(t, newFetchCmd(), "--in", filtered, "--out", shardsURL, "--allow-private", "--delay", "0", "--retries", "0",
		"--size", "32", "--samples-per-shard", "16", "--progress-every", "1h")
	m, err := shards.ReadManifest(shardsURL)
	if err != nil || m.TotalCount < 16 {
		t.Fatalf("fetch manifest %+v, %v", m, err)
	}

	out := runCLI(t, newShardsCmd(), "verify", shardsURL)
	if !strings.Contains(out, "OK") {
		t.Fatalf("shards verify: %s", out)
	}

	preset := filepath.Join(local, "preset.yaml")
	if err := os.WriteFile(preset, []byte(storageTestPreset), 0o644); err != nil {
		t.Fatal(err)
	}
	out = runCLI(t, newTrainCmd(), "--shards", shardsURL, "--config", preset, "--out", filepath.Join(local, "run"),
		"--steps", "3", "--batch-size", "8", "--no-progress", "--shuffle-buffer", "64")
	if !strings.Contains(out, "steps 3") {
		t.Fatalf("train: %s", out)
	}
	t.Logf("pairs %d files, %d samples in %d shards; train: %s", len(files), m.TotalCount, len(m.Shards), strings.TrimSpace(out))
}
