package storage_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/witdata/wit/internal/storage"
	"github.com/witdata/wit/internal/storage/s3test"
)

// backends returns a fresh location per backend: a local folder and a prefix in the in-process
// S3 server.
func backends(t *testing.T) map[string]string {
	_, bucket := s3test.Start(t, "wit")
	return map[string]string{
		"local": filepath.Join(t.TempDir(), "out"),
		"s3":    storage.Join(bucket, "some/prefix"),
	}
}

func names(infos []storage.Info) []string {
	var out []string
	for _, i := range infos {
		n := i.Name
		if i.IsDir {
			n += "/"
		}
		out = append(out, n)
	}
	return out
}

// TestDirContract runs the same table on every backend: a file appears only on Commit, Abort
// leaves nothing, listings hold exactly the committed names, reads at any offset are right.
func TestDirContract(t *testing.T) {
	ctx := context.Background()
	for backend, loc := range backends(t) {
		t.Run(backend, func(t *testing.T) {
			d, err := storage.Open(ctx, loc)
			if err != nil {
				t.Fatal(err)
			}
			if got, err := d.List(ctx, ""); err != nil || len(got) != 0 {
				t.Fatalf("missing dir lists %v, %v; want empty", got, err)
			}
			if _, err := d.Stat(ctx, "a.bin"); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("stat of a missing file: %v, want ErrNotExist", err)
			}
			if _, err := d.Open(ctx, "a.bin"); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("open of a missing file: %v, want ErrNotExist", err)
			}

			// Atomic appearance: nothing is visible (not even a temporary object on S3) until Commit.
			data := make([]byte, 3*storage.ReadAhead+12345)
			rng := rand.New(rand.NewPCG(1, 2))
			for i := range data {
				data[i] = byte(rng.UintN(256))
			}
			w, err := d.Create(ctx, "a.bin")
			if err != nil {
				t.Fatal(err)
			}
			for off := 0; off < len(data); off += 1 << 20 {
				if _, err := w.Write(data[off:min(off+1<<20, len(data))]); err != nil {
					t.Fatal(err)
				}
			}
			if w.Size() != int64(len(data)) {
				t.Fatalf("size %d, want %d", w.Size(), len(data))
			}
			if _, err := d.Stat(ctx, "a.bin"); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("file visible before Commit: %v", err)
			}
			if backend == "s3" {
				if got, _ := d.List(ctx, ""); len(got) != 0 {
					t.Fatalf("objects visible before Commit: %v", names(got))
				}
			}
			if err := w.Commit(); err != nil {
				t.Fatal(err)
			}
			w.Abort() // no effect after Commit

			// Abort leaves nothing, for a small file and for one past the multipart part size.
			for _, size := range []int{100, storage.PartSize + 1000} {
				w, err := d.Create(ctx, "aborted.bin")
				if err != nil {
					t.Fatal(err)
				}
				if _, err := w.Write(data[:size]); err != nil {
					t.Fatal(err)
				}
				w.Abort()
				if _, err := d.Stat(ctx, "aborted.bin"); !errors.Is(err, fs.ErrNotExist) {
					t.Fatalf("aborted %d-byte file exists: %v", size, err)
				}
			}
			// A cancelled context aborts too.
			cctx, cancel := context.WithCancel(ctx)
			w, err = d.Create(cctx, "cancelled.bin")
			if err != nil {
				t.Fatal(err)
			}
			w.Write(data[:1000])
			cancel()
			if err := w.Commit(); err == nil && backend == "s3" {
				t.Fatal("commit after cancel succeeded")
			}
			if backend == "s3" {
				if _, err := d.Stat(ctx, "cancelled.bin"); !errors.Is(err, fs.ErrNotExist) {
					t.Fatalf("cancelled file exists: %v", err)
				}
			}
			d.Delete(ctx, "cancelled.bin")

			// Replace is atomic too, and a second file and a sub-folder list as expected.
			if err := storage.Put(ctx, d, "b.json", []byte(`{"v":1}`)); err != nil {
				t.Fatal(err)
			}
			if err := storage.Put(ctx, d, "b.json", []byte(`{"v":2}`)); err != nil {
				t.Fatal(err)
			}
			if err := storage.Put(ctx, d.Sub("sub"), "c.txt", []byte("c")); err != nil {
				t.Fatal(err)
			}
			got, err := d.List(ctx, "")
			if err != nil {
				t.Fatal(err)
			}
			if want := []string{"a.bin", "b.json", "sub/"}; !slices.Equal(names(got), want) {
				t.Fatalf("list %v, want %v", names(got), want)
			}
			if got, _ := d.List(ctx, "b"); !slices.Equal(names(got), []string{"b.json"}) {
				t.Fatalf("list b*: %v", names(got))
			}
			if got[0].Size != int64(len(data)) {
				t.Fatalf("listed size %d, want %d", got[0].Size, len(data))
			}
			if st, err := d.Stat(ctx, "sub"); err != nil || !st.IsDir {
				t.Fatalf("stat sub: %+v, %v", st, err)
			}
			if b, err := storage.ReadFile(ctx, storage.Join(loc, "b.json")); err != nil || string(b) != `{"v":2}` {
				t.Fatalf("read b.json: %q, %v", b, err)
			}
			if st, err := storage.Stat(ctx, storage.Join(loc, "sub")); err != nil || !st.IsDir {
				t.Fatalf("storage.Stat sub: %+v, %v", st, err)
			}

			// Range reads: random offsets and lengths, including the tail and past the end.
			r, err := d.Open(ctx, "a.bin")
			if err != nil {
				t.Fatal(err)
			}
			if r.Size() != int64(len(data)) {
				t.Fatalf("reader size %d", r.Size())
			}
			for i := range 200 {
				off := rng.Int64N(int64(len(data)))
				n := 1 + rng.IntN(64<<10)
				if i%50 == 0 {
					n = storage.ReadAhead + 5
				}
				buf := make([]byte, n)
				k, err := r.ReadAt(buf, off)
				want := data[off:min(off+int64(n), int64(len(data)))]
				if k != len(want) || !bytes.Equal(buf[:k], want) {
					t.Fatalf("ReadAt(%d, %d): %d bytes, %v", n, off, k, err)
				}
				if k < n && err != io.EOF {
					t.Fatalf("short ReadAt without EOF: %v", err)
				}
			}
			if _, err := r.Seek(-10, io.SeekEnd); err != nil {
				t.Fatal(err)
			}
			tail, err := io.ReadAll(r)
			if err != nil || !bytes.Equal(tail, data[len(data)-10:]) {
				t.Fatalf("tail %x, %v", tail, err)
			}
			r.Close()

			// Delete, also of a missing file.
			for _, n := range []string{"b.json", "b.json", "sub/c.txt"} {
				if err := d.Delete(ctx, n); err != nil {
					t.Fatal(err)
				}
			}
			if got, _ := d.List(ctx, ""); !slices.Equal(names(got), []string{"a.bin"}) {
				t.Fatalf("after delete: %v", names(got))
			}
		})
	}
}

func TestStagedAndMoveIn(t *testing.T) {
	ctx := context.Background()
	for backend, loc := range backends(t) {
		t.Run(backend, func(t *testing.T) {
			d, _ := storage.Open(ctx, loc)
			stage := t.TempDir()
			w, err := storage.CreateStaged(ctx, d, "f.arrow", stage)
			if err != nil {
				t.Fatal(err)
			}
			w.Write([]byte("content"))
			s, ok := w.(storage.Staged)
			if !ok {
				t.Fatal("staged writer is not Staged")
			}
			if err := s.Finish(); err != nil {
				t.Fatal(err)
			}
			// A crash here: the temporary file is durable, the final name absent.
			if _, err := os.Stat(s.TempPath()); err != nil {
				t.Fatal(err)
			}
			if _, err := d.Stat(ctx, "f.arrow"); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("visible before commit: %v", err)
			}
			if err := storage.MoveIn(ctx, d, "f.arrow", s.TempPath()); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(s.TempPath()); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("temp file left: %v", err)
			}
			if b, err := storage.ReadFile(ctx, storage.Join(loc, "f.arrow")); err != nil || string(b) != "content" {
				t.Fatalf("%q, %v", b, err)
			}
		})
	}
}

func TestOutput(t *testing.T) {
	ctx := context.Background()
	for backend, loc := range backends(t) {
		t.Run(backend, func(t *testing.T) {
			o, err := storage.CreateOutput(ctx, loc)
			if err != nil {
				t.Fatal(err)
			}
			if err := storage.Put(ctx, o.Dir(), "00000.arrow", []byte("x")); err != nil {
				t.Fatal(err)
			}
			d, _ := storage.Open(ctx, loc)
			entries, _ := d.List(ctx, "")
			if backend == "s3" && !errors.Is(storage.CheckComplete(loc, entries), storage.ErrIncomplete) {
				t.Fatalf("output in progress passes as complete: %v", names(entries))
			}
			if backend == "local" && len(entries) != 0 {
				t.Fatalf("local output visible before commit: %v", names(entries))
			}
			o.Abort()
			if entries, _ := d.List(ctx, ""); len(entries) != 0 {
				t.Fatalf("abort left %v", names(entries))
			}

			o, err = storage.CreateOutput(ctx, loc)
			if err != nil {
				t.Fatal(err)
			}
			storage.Put(ctx, o.Dir(), "00000.arrow", []byte("x"))
			if err := o.Commit(); err != nil {
				t.Fatal(err)
			}
			o.Abort()
			entries, _ = d.List(ctx, "")
			if err := storage.CheckComplete(loc, entries); err != nil || !slices.Equal(names(entries), []string{"00000.arrow"}) {
				t.Fatalf("committed output: %v, %v", names(entries), err)
			}
			if _, err := storage.CreateOutput(ctx, loc); err == nil || !strings.Contains(err.Error(), "not empty") {
				t.Fatalf("second output into a full location: %v", err)
			}
		})
	}
}

func TestPrefetcher(t *testing.T) {
	ctx := context.Background()
	for backend, loc := range backends(t) {
		t.Run(backend, func(t *testing.T) {
			d, _ := storage.Open(ctx, loc)
			var files []string
			for i := range 6 {
				n := strings.Repeat(string(rune('a'+i)), 1) + ".bin"
				files = append(files, n)
				storage.Put(ctx, d, n, bytes.Repeat([]byte{byte(i)}, 1000+i))
			}
			p := storage.NewPrefetcher(ctx, d, files, 2)
			defer p.Close()
			// In order, with one skipped: each reads back its own content.
			for _, i := range []int{0, 1, 3, 4, 5} {
				r, err := p.Open(ctx, files[i])
				if err != nil {
					t.Fatal(err)
				}
				b, err := io.ReadAll(r)
				r.Close()
				if err != nil || len(b) != 1000+i || b[0] != byte(i) {
					t.Fatalf("%s: %d bytes, %v", files[i], len(b), err)
				}
			}
			// Out of order (a resumed loader filling its buffer) still works.
			r, err := p.Open(ctx, files[2])
			if err != nil {
				t.Fatal(err)
			}
			r.Close()
			if err := p.Close(); err != nil {
				t.Fatal(err)
			}
			left, _ := filepath.Glob(filepath.Join(os.TempDir(), "wit-prefetch-*"))
			if len(left) > 0 {
				t.Fatalf("prefetched copies left: %v", left)
			}
		})
	}
}

func TestLocations(t *testing.T) {
	const u = "s3://b/p/q?endpoint=http%3A%2F%2F127.0.0.1%3A1&region=x"
	for _, c := range []struct{ got, want string }{
		{storage.Join(u, "00001.arrow"), "s3://b/p/q/00001.arrow?endpoint=http%3A%2F%2F127.0.0.1%3A1&region=x"},
		{storage.Join("s3://b?r=1", "a", "b.json"), "s3://b/a/b.json?r=1"},
		{storage.Base(u), "q"},
		{storage.Parent(u), "s3://b/p?endpoint=http%3A%2F%2F127.0.0.1%3A1&region=x"},
		{storage.Parent("s3://b?x=1"), "s3://b?x=1"},
		{storage.Join("work/out", "a.json"), "work/out/a.json"},
		{storage.Join("file:///tmp/x", "a"), "/tmp/x/a"},
		{storage.Parent("work/out/a.json"), "work/out"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
	if !storage.IsRemote(u) || storage.IsRemote("file:///x") || storage.IsRemote("a/b") {
		t.Error("IsRemote")
	}
	if !storage.Inside("s3://b/p", "s3://b/p/q?x=1") || storage.Inside("s3://b/p", "s3://b/pq") {
		t.Error("Inside (remote)")
	}
	if !storage.Inside("work", "work/out") || storage.Inside("work/out", "work") {
		t.Error("Inside (local)")
	}
	if _, err := storage.Open(context.Background(), "gs://bucket/x"); err == nil {
		t.Error("unsupported scheme opened")
	}
}
