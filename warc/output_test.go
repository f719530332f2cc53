package warc

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/witdata/wit/internal/storage"
	"github.com/witdata/wit/internal/storage/s3test"
)

var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

func testExchange(i int) *Exchange {
	return &Exchange{URL: "http://example.org/" + string(rune('a'+i)), Date: time.Unix(1700000000, 0),
		Request:  []byte("GET / HTTP/1.1\r\nHost: example.org\r\n\r\n"),
		Response: []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n" + strings.Repeat("z", 200)), PayloadOffset: 44}
}

// readRemote reads every record of the archive files under loc.
func readRemote(t *testing.T, loc string) (names []string, recs []*Record) {
	t.Helper()
	ctx := context.Background()
	d, err := storage.Open(ctx, loc)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := d.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		names = append(names, e.Name)
		data, err := storage.ReadFile(ctx, storage.Join(loc, e.Name))
		if err != nil {
			t.Fatal(err)
		}
		rd := NewReader(bytes.NewReader(data), ReaderOptions{})
		for {
			rec, err := rd.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", e.Name, err)
			}
			io.Copy(io.Discard, rec.Body)
			recs = append(recs, rec)
		}
		if c := rd.Counts(); c.BadMembers+c.Malformed > 0 || c.Members != c.Records {
			t.Fatalf("%s: counts %+v", e.Name, c)
		}
	}
	return names, recs
}

// TestStorageOutput writes a rotating archive to the in-process S3 server: every file is one
// complete object, named as locally, with nothing else in the bucket and nothing left staged.
func TestStorageOutput(t *testing.T) {
	srv, bucket := s3test.Start(t, "wit")
	loc := storage.Join(bucket, "archive")
	stage := filepath.Join(t.TempDir(), "stage")
	out, err := NewOutput(context.Background(), loc, stage, quietLog)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := out.(*StorageOutput); !ok {
		t.Fatalf("NewOutput(%s) gave %T", loc, out)
	}
	a := NewArchive(out, ArchiveOptions{Prefix: "test", MaxFileBytes: 2000})
	for i := range 20 {
		if err := a.WriteExchange(testExchange(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	files := a.Files()
	if len(files) < 3 {
		t.Fatalf("no rotation: %v", files)
	}
	var want []string
	for _, f := range files {
		want = append(want, "archive/"+f)
	}
	if keys := srv.Keys(t, "wit"); !slices.Equal(keys, want) {
		t.Fatalf("bucket holds %v, want %v", keys, want)
	}
	if left, _ := os.ReadDir(stage); len(left) > 0 {
		t.Fatalf("staged files left: %v", left)
	}
	_, recs := readRemote(t, loc)
	if len(recs) != len(files)+40 {
		t.Fatalf("%d records, want %d", len(recs), len(files)+40)
	}
}

// TestStorageOutputRecover: the next NewStorageOutput uploads what a killed process left staged —
// a file cut off mid-record (cut after its last complete record) and a complete file whose
// upload never ran — and drops a staged file whose upload had finished.
func TestStorageOutputRecover(t *testing.T) {
	srv, bucket := s3test.Start(t, "wit")
	ctx := context.Background()
	loc := storage.Join(bucket, "archive")
	stage := t.TempDir()

	// A killed writer: records written to a local directory, the process gone before Commit,
	// then half a record.
	killed := t.TempDir()
	d, _ := NewDirOutput(killed, quietLog)
	a := NewArchive(d, ArchiveOptions{Prefix: "killed"})
	for i := range 5 {
		a.WriteExchange(testExchange(i))
	}
	tmps, _ := filepath.Glob(filepath.Join(killed, "*.tmp-*"))
	if len(tmps) != 1 {
		t.Fatalf("temp files %v", tmps)
	}
	complete, _ := os.ReadFile(tmps[0])
	os.WriteFile(filepath.Join(stage, filepath.Base(tmps[0])), append(bytes.Clone(complete), "\x1f\x8b\x08\x00half a member"...), 0o644)
	// A complete file whose upload never ran, and one whose upload ran but whose staged copy was
	// not removed.
	os.WriteFile(filepath.Join(stage, "pending"+Ext+tempMarker+"1"), complete, 0o644)
	if err := storage.WriteFile(ctx, storage.Join(loc, "done"+Ext), complete); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(stage, "done"+Ext+tempMarker+"2"), complete, 0o644)

	out, err := NewStorageOutput(ctx, loc, stage, quietLog)
	if err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(stage); len(left) > 0 {
		t.Fatalf("staged files left: %v", left)
	}
	name := filepath.Base(tmps[0])
	name = name[:strings.Index(name, tempMarker)]
	want := []string{"archive/done" + Ext, "archive/" + name, "archive/pending" + Ext}
	if keys := srv.Keys(t, "wit"); !slices.Equal(keys, want) {
		t.Fatalf("bucket holds %v, want %v", keys, want)
	}
	for _, n := range []string{name, "pending" + Ext} {
		got, err := storage.ReadFile(ctx, storage.Join(loc, n))
		if err != nil || !bytes.Equal(got, complete) {
			t.Fatalf("%s: %d bytes, want the %d complete ones (%v)", n, len(got), len(complete), err)
		}
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestStorageOutputUploadFails: a failed upload is reported by the next commit and by Close, and
// its file stays staged until a later output uploads it.
func TestStorageOutputUploadFails(t *testing.T) {
	srv, bucket := s3test.Start(t, "wit")
	missing := strings.Replace(bucket, "s3://wit", "s3://later", 1) // no such bucket yet
	stage := t.TempDir()
	out, err := NewStorageOutput(context.Background(), missing, stage, quietLog)
	if err != nil {
		t.Fatal(err)
	}
	a := NewArchive(out, ArchiveOptions{MaxFileBytes: 1000})
	var writeErr error
	for i := 0; i < 20 && writeErr == nil; i++ {
		writeErr = a.WriteExchange(testExchange(i))
	}
	closeErr := a.Close()
	if writeErr == nil || closeErr == nil {
		t.Fatalf("failed upload not reported: write %v, close %v", writeErr, closeErr)
	}
	staged, _ := filepath.Glob(filepath.Join(stage, "*"+Ext+tempMarker+"*"))
	if len(staged) != 2 {
		t.Fatalf("staged after the failure: %v", staged)
	}
	if err := srv.Backend.CreateBucket("later"); err != nil {
		t.Fatal(err)
	}
	if _, err := NewStorageOutput(context.Background(), missing, stage, quietLog); err != nil {
		t.Fatal(err)
	}
	if keys := srv.Keys(t, "later"); len(keys) != 2 {
		t.Fatalf("recovered %v", keys)
	}
	if _, recs := readRemote(t, missing); len(recs) != 2*3 {
		t.Fatalf("%d records recovered", len(recs))
	}
}
