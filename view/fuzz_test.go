package view

import (
	"encoding/binary"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cespare/xxhash/v2"
)

// FuzzRequests: no request line makes the server fail (5xx) or serve a file of the dataset folder
// (images are served, and their bytes are inside the shards, but never a file).
func FuzzRequests(f *testing.F) {
	for _, s := range []string{"/", "/?text=rose&lang=fr", "/?start=3&n=2", "/sample?key=000000001", "/thumb?key=000010002",
		"/image?key=..%2F00000.arrow", "/static/view.css", "/chart/languages.svg", "/stats", "/status", "/search?q=x",
		"/?minw=99999999999999999999", "/sample?key=%00", "/?query=%ff%fe"} {
		f.Add(s)
	}
	dir, _ := writeTestDataset(f, 7, 3)
	d := openTest(f, dir)
	s, err := NewServer(d, ServerOptions{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, target string) {
		if !strings.HasPrefix(target, "/") || strings.ContainsAny(target, " \r\n\t") {
			return
		}
		req, err := http.NewRequest("GET", "http://127.0.0.1"+target, nil)
		if err != nil {
			return
		}
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("GET %q: %d %s", target, rec.Code, rec.Body.String())
		}
		if strings.Contains(rec.Body.String(), "ARROW1") { // the magic that opens and closes an Arrow file
			t.Fatalf("GET %q served a shard file", target)
		}
	})
}

// FuzzLoadIndex: a damaged index cache is rebuilt (errStaleCache), never trusted, never a panic.
func FuzzLoadIndex(f *testing.F) {
	dir, _ := writeTestDataset(f, 7, 3)
	d := openTest(f, dir)
	good, err := os.ReadFile(filepath.Join(d.CacheDir, indexFile))
	if err != nil {
		f.Fatal(err)
	}
	files, err := stampFiles(dir)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		// Most inputs get the right checksum, so that the gob decoder and the checks after it are fuzzed.
		if len(data) >= 8 && data[0]&1 == 0 {
			binary.LittleEndian.PutUint64(data, xxhash.Sum64(data[8:]))
		}
		path := filepath.Join(t.TempDir(), indexFile)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		x, err := loadIndex(path, files)
		if time.Since(start) > time.Second {
			t.Fatalf("slow load: %v (%v)", time.Since(start), err)
		}
		if err != nil {
			return
		}
		// Trusted: its rows must be addressable.
		for r := range min(x.Rows, 10000) {
			if _, _, _, ok := x.locate(r); !ok {
				t.Fatalf("row %d of a loaded index cannot be located", r)
			}
			x.key(r)
		}
	})
}
