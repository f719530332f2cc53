package main

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/witdata/wit/shards"
)

func runShards(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := newShardsCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(io.Discard)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

func writeCLIShards(t *testing.T) string {
	t.Helper()
	var img bytes.Buffer
	if err := jpeg.Encode(&img, image.NewGray(image.Rect(0, 0, 8, 6)), nil); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	w, err := shards.NewWriter(dir, shards.SampleSchema, shards.WriterOptions{RowsPerFile: 3, Metadata: shards.SampleMetadata()})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		shards.AppendSample(w.Builder(), &shards.Sample{Key: shards.SampleKey(i/3, i%3), Image: img.Bytes(), Caption: fmt.Sprint("caption ", i),
			CaptionSource: "alt", Width: 8, Height: 6, SHA256: strings.Repeat("ab", 32), Language: "en"})
		if err := w.EndRow(); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestShardsCLI(t *testing.T) {
	dir := writeCLIShards(t)
	out, err := runShards(t, "verify", dir)
	if err != nil || !strings.Contains(out, ": OK (samples; 2 files, 2 batches (2 with matching checksums), 5 rows, 5 images checked") {
		t.Fatalf("verify: %v\n%s", err, out)
	}
	out, err = runShards(t, "inspect", dir, "--json")
	var rep shards.InspectReport
	if err != nil || json.Unmarshal([]byte(out), &rep) != nil || rep.TotalRows != 5 {
		t.Fatalf("inspect: %v\n%s", err, out)
	}
	out, err = runShards(t, "inspect", dir)
	if err != nil || !strings.Contains(out, "JPEG 8x6") || !strings.Contains(out, "00001.arrow") {
		t.Fatalf("inspect text: %v\n%s", err, out)
	}
	out, err = runShards(t, "stats", dir)
	if err != nil || !strings.Contains(out, "5 samples") || !strings.Contains(out, "8x6") {
		t.Fatalf("stats: %v\n%s", err, out)
	}
	wds := filepath.Join(t.TempDir(), "wds")
	if _, err := runShards(t, "export", dir, "--format", "webdataset", "--out", wds); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(wds, "00001.tar"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h, err := tar.NewReader(f).Next()
	if err != nil || h.Name != "000010000.jpg" {
		t.Fatalf("tar: %v %v", h, err)
	}
	if _, err := runShards(t, "export", dir, "--format", "webdataset", "--compression", "zstd", "--out", wds); err == nil {
		t.Fatal("--compression with webdataset accepted")
	}
	if _, err := runShards(t, "export", dir, "--out", wds); err == nil {
		t.Fatal("missing --format accepted")
	}

	// A changed caption byte: verify names the batch.
	data, _ := os.ReadFile(filepath.Join(dir, "00000.arrow"))
	os.WriteFile(filepath.Join(dir, "00000.arrow"), bytes.Replace(data, []byte("caption 1"), []byte("caption 7"), 1), 0o644)
	out, err = runShards(t, "verify", dir)
	if err == nil || !strings.Contains(out, "00000.arrow batch 0: checksum mismatch") {
		t.Fatalf("verify flipped caption: %v\n%s", err, out)
	}

	os.WriteFile(filepath.Join(dir, "00001.arrow"), []byte("garbage"), 0o644)
	out, err = runShards(t, "verify", dir)
	if err == nil || !strings.Contains(out, "00001.arrow: corrupt shard") || !strings.Contains(out, "2 PROBLEMS") {
		t.Fatalf("verify corrupt: %v\n%s", err, out)
	}
	// inspect lists the unreadable files (the one whose rows it counts fails its checksum) and
	// exits non-zero, for the directory and for one file.
	for target, want := range map[string]string{dir: "2 unreadable", filepath.Join(dir, "00001.arrow"): "1 unreadable"} {
		for _, args := range [][]string{{"inspect", target}, {"inspect", target, "--json"}} {
			out, err = runShards(t, args...)
			if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(out, "00001.arrow") {
				t.Errorf("%v: %v\n%s", args, err, out)
			}
		}
	}
}

// Every flag is explained in --help.
func TestShardsHelp(t *testing.T) {
	for _, c := range newShardsCmd().Commands() {
		c.Flags().VisitAll(func(f *pflag.Flag) {
			if len(f.Usage) < 10 {
				t.Errorf("%s --%s: usage %q", c.Name(), f.Name, f.Usage)
			}
		})
		if len(c.Long) < 100 || c.Example == "" {
			t.Errorf("%s: no long help or example", c.Name())
		}
	}
}
