package cc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/witdata/wit/internal/storage"
	"github.com/witdata/wit/internal/storage/s3test"
	"github.com/witdata/wit/warc"
)

// archiveFixtures returns the test archives by name: WAT files (gzip per record and plain), a
// WARC file of HTML responses, a file that is not an archive, and one in a sub-folder.
func archiveFixtures(t *testing.T) map[string][]byte {
	t.Helper()
	wat, _ := writeRecords(t, watRecords(t))
	var plain bytes.Buffer
	w := warc.NewWriter(&plain, false)
	for _, r := range watRecords(t) {
		w.WriteRecord(&r.Header, r.Block...)
	}
	const date = "2024-03-01T10:00:00Z"
	http200 := "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
	wrc, _ := writeRecords(t, []*warc.OutRecord{
		response("https://example.fr/galerie", date, http200+richPage),
		response("https://example.fr/gone", date, "HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\n\r\n"+richPage),
		response("https://example.fr/gzip", date, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\n\r\n"+gz(richPage)),
	})
	return map[string][]byte{
		"a.warc.wat.gz":   wat,
		"b.wat":           plain.Bytes(),
		"c.warc.gz":       wrc,
		"notes.txt":       []byte("not an archive"),
		"sub/d.warc.gz":   wrc,
		"sub/e.wat.gz":    wat,
		"z-empty.warc.gz": nil,
	}
}

// TestObjectStorage reads archives from the in-process S3 server — a folder, single files, a
// paths list resolved against an s3:// base — and writes the pairs there: the same pairs as from
// local disk, and nothing in the bucket but the pair files and the stats.
func TestObjectStorage(t *testing.T) {
	ctx := context.Background()
	srv, bucket := s3test.Start(t, "wit")
	t.Setenv("XDG_CACHE_HOME", t.TempDir()) // the default state of an s3:// output
	local := t.TempDir()
	var inputKeys []string
	for name, data := range archiveFixtures(t) {
		p := filepath.Join(local, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := storage.WriteFile(ctx, storage.Join(bucket, "in", name), data); err != nil {
			t.Fatal(err)
		}
		inputKeys = append(inputKeys, "in/"+name)
	}
	paths := "c.warc.gz\n\nsub/e.wat.gz\n"
	if err := storage.WriteFile(ctx, storage.Join(bucket, "lists/wat.paths"), []byte(paths)); err != nil {
		t.Fatal(err)
	}
	inputKeys = append(inputKeys, "lists/wat.paths")

	ref := testOptions(t)
	refStats := run(t, ref, local)
	want := pairLines(t, ref.Out)
	// Three WAT files and two copies of the WARC file.
	watPairs := len(wantWATPairs)
	warcPairs := (len(want) - 3*watPairs) / 2
	if refStats.Files != 6 || warcPairs <= 0 || len(want) != 3*watPairs+2*warcPairs {
		t.Fatalf("local reference: %d files, %d pairs", refStats.Files, len(want))
	}

	folder := strings.Replace(storage.Join(bucket, "in"), "?", "/?", 1) // s3://wit/in/?endpoint=...
	cases := []struct {
		name   string
		in     []string
		base   string
		inputs int
	}{
		{"folder", []string{folder}, "", 6},
		{"files", []string{storage.Join(bucket, "in/a.warc.wat.gz"), storage.Join(bucket, "in/sub/d.warc.gz")}, "", 2},
		{"paths list", []string{storage.Join(bucket, "lists/wat.paths")}, storage.Join(bucket, "in"), 2},
	}
	var outKeys []string
	for i, c := range cases {
		out := storage.Join(bucket, fmt.Sprintf("out%d", i))
		opts := Options{Out: out, Logger: quiet, Workers: 2}
		st, err := Run(ctx, opts, Inputs(ctx, c.in, c.base, NewOpener(false, 2, 0)))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if st.Files != int64(c.inputs) || st.FilesFailed != 0 {
			t.Fatalf("%s: %+v", c.name, st)
		}
		got := pairLines(t, out)
		switch c.name {
		case "folder":
			if !slices.Equal(got, want) {
				t.Fatalf("folder on s3 gives\n%s\nlocal\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			if st.Pairs != refStats.Pairs || fmt.Sprint(st.Outcomes) != fmt.Sprint(refStats.Outcomes) || st.Bytes != refStats.Bytes {
				t.Fatalf("stats differ: %+v\n%+v", st, refStats)
			}
		case "files":
			if len(got) != watPairs+warcPairs || !slices.Equal(got[:watPairs], wantWATPairs) {
				t.Fatalf("files: %v", got)
			}
		case "paths list":
			if len(got) != watPairs+warcPairs || !slices.Equal(got[warcPairs:], wantWATPairs) {
				t.Fatalf("paths list: %v", got)
			}
		}
		data, err := storage.ReadFile(ctx, storage.Join(out, StatsFile))
		var onStore Stats
		if err != nil || json.Unmarshal(data, &onStore) != nil || onStore.Pairs != st.Pairs {
			t.Fatalf("%s: stats file %v %s", c.name, err, data)
		}
		prefix := fmt.Sprintf("out%d/", i)
		for _, f := range st.files(t, opts) {
			outKeys = append(outKeys, prefix+f)
		}
		outKeys = append(outKeys, prefix+StatsFile)
	}
	// Nothing else: no temporary objects, and the state stayed on local disk.
	wantKeys := append(slices.Clone(inputKeys), outKeys...)
	slices.Sort(wantKeys)
	if keys := srv.Keys(t, "wit"); !slices.Equal(keys, wantKeys) {
		t.Fatalf("bucket holds\n%s\nwant\n%s", strings.Join(keys, "\n"), strings.Join(wantKeys, "\n"))
	}
}

// files lists the pair files the done markers of opts name.
func (s *Stats) files(t *testing.T, opts Options) []string {
	t.Helper()
	ctx := context.Background()
	if opts.State == "" {
		opts.State = DefaultState(opts.Out)
	}
	d, err := storage.Open(ctx, storage.Join(opts.State, "done"))
	if err != nil {
		t.Fatal(err)
	}
	entries, _ := d.List(ctx, "")
	var out []string
	for _, e := range entries {
		data, err := storage.ReadFile(ctx, storage.Join(opts.State, "done", e.Name))
		if err != nil {
			t.Fatal(err)
		}
		var fs FileStats
		json.Unmarshal(data, &fs)
		if fs.Output != "" {
			out = append(out, fs.Output)
		}
	}
	if int64(len(entries)) != s.Files {
		t.Fatalf("%d markers, %d files", len(entries), s.Files)
	}
	return out
}

// TestObjectStorageResume is TestResume from S3 to S3: a cancelled run leaves the pair files of
// the inputs it finished and nothing else; the next run reads the others, none twice; an input
// whose marker is lost is written again over its file. With --state on the store too, the
// markers are objects and a rerun skips every input.
func TestObjectStorageResume(t *testing.T) {
	ctx := context.Background()
	srv, bucket := s3test.Start(t, "wit")
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	recs := watRecords(t)
	local := t.TempDir()
	for i := range 5 {
		var rs []*warc.OutRecord
		for _, r := range recs {
			block := bytes.ReplaceAll(r.Block[0], []byte("example.com"), []byte(fmt.Sprintf("site%d.example", i)))
			rs = append(rs, &warc.OutRecord{Header: r.Header, Block: [][]byte{block}})
		}
		data, _ := writeRecords(t, rs)
		name := fmt.Sprintf("in-%d.wat.gz", i)
		os.WriteFile(filepath.Join(local, name), data, 0o644)
		if err := storage.WriteFile(ctx, storage.Join(bucket, "in", name), data); err != nil {
			t.Fatal(err)
		}
	}
	ref := testOptions(t)
	run(t, ref, local)
	want := pairLines(t, ref.Out)

	in := []string{storage.Join(bucket, "in")}
	out := storage.Join(bucket, "out")
	keysUnder := func(prefix string) []string {
		var ks []string
		for _, k := range srv.Keys(t, "wit") {
			if strings.HasPrefix(k, prefix) {
				ks = append(ks, strings.TrimPrefix(k, prefix))
			}
		}
		return ks
	}
	opts := Options{Out: out, Logger: quiet, Workers: 1}
	cctx, cancel := context.WithCancel(ctx)
	opts.Open = cancelAfter(3, cancel)
	st, err := Run(cctx, opts, Inputs(cctx, in, "", opts.Open))
	if !errors.Is(err, context.Canceled) || st.Files != 2 {
		t.Fatalf("cancelled run: %v, %+v", err, st)
	}
	if keys := keysUnder("out/"); !slices.Equal(keys, []string{"00000.arrow", "00001.arrow", StatsFile}) {
		t.Fatalf("after the cancel the output holds %v", keys)
	}
	state := DefaultState(out)
	if rel, err := filepath.Rel(os.Getenv("XDG_CACHE_HOME"), state); err != nil || strings.HasPrefix(rel, "..") {
		t.Fatalf("default state %s is not in the user cache", state)
	}
	if left, _ := os.ReadDir(stageDir(Options{Out: out, State: state})); len(left) > 0 {
		t.Fatalf("staged files left: %v", left)
	}

	opts.Open = nil
	st = run(t, opts, in...)
	if st.Files != 5 || st.FilesSkipped != 2 || st.FilesThisRun != 3 || st.Pairs != 20 {
		t.Fatalf("resumed: %+v", st)
	}
	if got := pairLines(t, out); !slices.Equal(got, want) {
		t.Fatalf("resumed output differs:\n%v\n%v", got, want)
	}
	wantKeys := []string{"00000.arrow", "00001.arrow", "00002.arrow", "00003.arrow", "00004.arrow", StatsFile}
	if keys := keysUnder("out/"); !slices.Equal(keys, wantKeys) {
		t.Fatalf("output holds %v", keys)
	}
	// A run that stopped between the upload of its file and its marker.
	if err := os.Remove(filepath.Join(state, "done", "00004.json")); err != nil {
		t.Fatal(err)
	}
	st = run(t, opts, in...)
	if st.FilesThisRun != 1 || st.FilesSkipped != 4 || st.Pairs != 20 {
		t.Fatalf("redo: %+v", st)
	}
	if got := pairLines(t, out); !slices.Equal(got, want) || !slices.Equal(keysUnder("out/"), wantKeys) {
		t.Fatal("redo changed the output")
	}

	// Markers on the store.
	shared := Options{Out: storage.Join(bucket, "out-shared"), State: storage.Join(bucket, "state"), Logger: quiet, Workers: 2}
	run(t, shared, in...)
	if st := run(t, shared, in...); st.FilesSkipped != 5 || st.FilesThisRun != 0 || st.Pairs != 20 {
		t.Fatalf("rerun with the state on s3: %+v", st)
	}
	if keys := keysUnder("state/"); !slices.Equal(keys, []string{"done/00000.json", "done/00001.json", "done/00002.json", "done/00003.json", "done/00004.json"}) {
		t.Fatalf("state holds %v", keys)
	}
	if got := pairLines(t, shared.Out); !slices.Equal(got, want) {
		t.Fatal("output with the state on s3 differs")
	}
}
