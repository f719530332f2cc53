package shards

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// flipInFile finds the first occurrence of needle in path at or after from, and XORs the byte at
// offset off inside it with mask.
func flipInFile(t *testing.T, path string, needle []byte, off int, mask byte) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(data, needle)
	if i < 0 {
		t.Fatalf("%s: needle not found", path)
	}
	data[i+off] ^= mask
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// sofHeightOffset returns the offset of the low byte of the height in img's SOF0 segment.
func sofHeightOffset(t *testing.T, img []byte) int {
	i := bytes.Index(img, []byte{0xFF, 0xC0})
	if i < 0 {
		t.Fatal("no SOF0")
	}
	return i + 6 // FF C0, length (2), precision (1), height (2, big-endian)
}

// scanDataOffset returns an offset inside the entropy-coded data of img whose next byte makes
// 0xFF there an illegal marker.
func scanDataOffset(t *testing.T, img []byte) int {
	i := bytes.Index(img, []byte{0xFF, 0xDA})
	if i < 0 {
		t.Fatal("no SOS")
	}
	for j := i + 40; j < len(img)-4; j++ {
		if n := img[j+1]; n > 0x00 && n < 0xC0 && img[j] != 0xFF {
			return j
		}
	}
	t.Fatal("no offset")
	return 0
}

func TestVerify(t *testing.T) {
	type setup struct {
		t  *testing.T
		ds *expDataset
	}
	path := func(s setup, name string) string { return filepath.Join(s.ds.dir, name) }
	tests := []struct {
		name   string
		opts   expOptions
		decode bool
		mutate func(s setup)
		want   []string // substrings of problems ("file: reason" form)
	}{
		{name: "clean"},
		{name: "clean, decode images", decode: true},
		{name: "truncated file", mutate: func(s setup) {
			st, _ := os.Stat(path(s, "00001.arrow"))
			os.Truncate(path(s, "00001.arrow"), st.Size()/2)
		}, want: []string{"00001.arrow: corrupt shard", "00001_stats.json: records", "manifest.json: lists 00001.arrow with"}},
		{name: "garbage file", mutate: func(s setup) {
			rng := rand.New(rand.NewPCG(1, 1))
			junk := make([]byte, 5000)
			for i := range junk {
				junk[i] = byte(rng.Uint32())
			}
			os.WriteFile(path(s, "00003.arrow"), junk, 0o644)
		}, want: []string{"00003.arrow: corrupt shard", "manifest.json: does not list 00003.arrow", "00003.arrow: no 00003_stats.json", "sizes.json: has no entry for 00003.arrow"}},
		{name: "flipped SOI byte", mutate: func(s setup) {
			flipInFile(s.t, path(s, "00001.arrow"), s.ds.samples[11].Image, 1, 0x01)
		}, want: []string{"00001.arrow batch 0 row 1 key 000010001: image does not start with the JPEG SOI marker"}},
		{name: "flipped height byte", mutate: func(s setup) {
			img := s.ds.samples[12].Image
			flipInFile(s.t, path(s, "00001.arrow"), img, sofHeightOffset(s.t, img), 0x04)
		}, want: []string{"00001.arrow batch 0 row 2 key 000010002: image is 24x20, columns say 24x16"}},
		{name: "byte in scan data, decoded", decode: true, mutate: func(s setup) {
			img := s.ds.samples[0].Image
			j := scanDataOffset(s.t, img)
			flipInFile(s.t, path(s, "00000.arrow"), img, j, img[j]^0xFF)
		}, want: []string{"00000.arrow batch 0 row 0 key 000000000: image data:"}},
		{name: "flipped URL byte (issue 18)", mutate: func(s setup) {
			flipInFile(s.t, path(s, "00001.arrow"), []byte("http://img.test/14.jpg"), 15, '/'^'"') // .../img14.jpg -> ..."img14.jpg
		}, want: []string{"00001.arrow batch 0: checksum mismatch"}},
		{name: "byte in scan data, not decoded", mutate: func(s setup) {
			img := s.ds.samples[0].Image
			j := scanDataOffset(s.t, img)
			flipInFile(s.t, path(s, "00000.arrow"), img, j, 0x10)
		}, want: []string{"00000.arrow batch 0: checksum mismatch"}},
		{name: "manifest count", mutate: func(s setup) {
			m, err := ReadManifest(s.ds.dir)
			if err != nil {
				s.t.Fatal(err)
			}
			m.Shards[1].Count++
			WriteManifest(s.ds.dir, m)
		}, want: []string{"manifest.json: lists 00001.arrow with 11 samples, it has 10", "sizes.json: gives 00001.arrow 11 samples, it has 10"}},
		{name: "manifest lists a missing file", mutate: func(s setup) {
			m, _ := ReadManifest(s.ds.dir)
			m.Shards = append(m.Shards, ShardInfo{File: "00007.arrow", Count: 3, Bytes: 10})
			writeJSON(path(s, ManifestName), m)
		}, want: []string{"manifest.json: lists 00007.arrow, which does not exist", "manifest.json: total_count"}},
		{name: "stats successes", mutate: func(s setup) {
			ss, _ := ReadShardStats(path(s, StatsName(2)))
			ss.Successes = 9
			writeJSON(path(s, StatsName(2)), ss)
		}, want: []string{"00002_stats.json: count 6 != successes 9 + failures 1", "00002_stats.json: records 9 successes, 00002.arrow has 5 rows"}},
		{name: "bad manifest json", mutate: func(s setup) {
			os.WriteFile(path(s, ManifestName), []byte("{not json"), 0o644)
		}, want: []string{"manifest.json: manifest"}},
		{name: "duplicate keys", opts: expOptions{mutate: func(i int, s *Sample) {
			if i == 17 {
				s.Key = SampleKey(0, 3)
			}
		}}, want: []string{"00001.arrow batch 0 row 7 key 000000003: duplicate key (first at 00000.arrow row 3)"}},
		{name: "malformed keys", opts: expOptions{mutate: func(i int, s *Sample) {
			switch i {
			case 4:
				s.Key = "abc"
			case 5:
				s.Key = ""
			}
		}}, want: []string{`row 4 key abc: malformed key "abc"`, `row 5: malformed key ""`}},
		{name: "not a jpeg", opts: expOptions{mutate: func(i int, s *Sample) {
			if i == 8 {
				s.Image = []byte("\x89PNG\r\n\x1a\n....")
			}
			if i == 9 {
				s.SHA256 = "ABC"
			}
		}}, want: []string{"row 8 key 000000008: image does not start with the JPEG SOI marker (starts 89 50 4e 47", `row 9 key 000000009: sha256 "ABC"`}},
		{name: "temp files", mutate: func(s setup) {
			os.WriteFile(path(s, "00003.arrow.tmp-12345"), []byte("x"), 0o644)
			os.WriteFile(path(s, "manifest.json.tmp-9"), []byte("x"), 0o644)
		}, want: []string{"00003.arrow.tmp-12345: stray temporary file", "manifest.json.tmp-9: stray temporary file"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.opts
			o.n, o.perFile, o.batch = 25, 10, 8
			ds := writeExpShards(t, t.TempDir(), o)
			if tc.mutate != nil {
				tc.mutate(setup{t, ds})
			}
			rep, err := Verify(context.Background(), ds.dir, VerifyOptions{DecodeImages: tc.decode})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range rep.Problems {
				got = append(got, p.String())
			}
			if len(tc.want) == 0 {
				if !rep.OK() || len(got) > 0 || rep.Rows != 25 || rep.Files != 3 || rep.Images != 25 || rep.Kind != KindSamples {
					t.Fatalf("clean dir: %+v", rep)
				}
				if len(rep.Notes) != 0 {
					t.Fatalf("notes on a complete dir: %v", rep.Notes)
				}
				return
			}
			if rep.OK() || rep.ProblemCount != len(rep.Problems) {
				t.Fatalf("problems not counted: %+v", rep)
			}
			for _, w := range tc.want {
				found := false
				for _, g := range got {
					found = found || strings.Contains(g, w)
				}
				if !found {
					t.Errorf("no problem %q in\n%s", w, strings.Join(got, "\n"))
				}
			}
		})
	}
}

func TestVerifyPairsAndNoMetadata(t *testing.T) {
	dir := t.TempDir()
	w, err := NewWriter(dir, PairSchema, WriterOptions{RowsPerFile: 4})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		AppendPair(w.Builder(), Pair{PageURL: "http://a.test/", ImageURL: "http://a.test/x.jpg", Caption: "c" + string(rune('a'+i))})
		if err := w.EndRow(); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	rep, err := Verify(context.Background(), dir, VerifyOptions{})
	if err != nil || !rep.OK() || rep.Kind != KindPairs || rep.Rows != 10 {
		t.Fatalf("pairs: %+v %v", rep, err)
	}

	ds := writeExpShards(t, t.TempDir(), expOptions{n: 5, perFile: 5, noMeta: true})
	rep, err = Verify(context.Background(), ds.dir, VerifyOptions{})
	if err != nil || !rep.OK() || len(rep.Notes) != 2 {
		t.Fatalf("no metadata: %+v %v", rep, err)
	}
	// Schema drift between files.
	w, _ = NewWriter(ds.dir, PairSchema, WriterOptions{FirstIndex: -1})
	AppendPair(w.Builder(), Pair{Caption: "x"})
	w.EndRow()
	w.Close()
	rep, _ = Verify(context.Background(), ds.dir, VerifyOptions{})
	if rep.OK() || !strings.Contains(rep.Problems[0].String(), "00001.arrow: schema differs from 00000.arrow") {
		t.Fatalf("schema drift: %+v", rep.Problems)
	}

	if _, err := Verify(context.Background(), filepath.Join(dir, "missing"), VerifyOptions{}); err == nil {
		t.Fatal("missing dir accepted")
	}
	rep, _ = Verify(context.Background(), t.TempDir(), VerifyOptions{})
	if rep.OK() {
		t.Fatal("empty dir verified")
	}
}

// Random byte flips anywhere in a shard must give problems or pass, never a panic.
func TestVerifyRandomCorruptionNeverPanics(t *testing.T) {
	ds := writeExpShards(t, t.TempDir(), expOptions{n: 12, perFile: 12, batch: 5})
	orig, err := os.ReadFile(filepath.Join(ds.dir, "00000.arrow"))
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	caught := 0
	const rounds = 60
	for range rounds {
		data := bytes.Clone(orig)
		for range 1 + rng.IntN(4) {
			data[rng.IntN(len(data))] ^= byte(1 + rng.IntN(255))
		}
		os.WriteFile(filepath.Join(ds.dir, "00000.arrow"), data, 0o644)
		rep, err := Verify(context.Background(), ds.dir, VerifyOptions{DecodeImages: true})
		if err != nil {
			t.Fatal(err)
		}
		if !rep.OK() {
			caught++
		}
	}
	t.Logf("%d of %d corruptions reported", caught, rounds)
	if caught < rounds/2 {
		t.Fatalf("only %d of %d corruptions reported", caught, rounds)
	}
}

func BenchmarkVerify(b *testing.B) {
	dir, size := benchDataset(b)
	b.SetBytes(size)
	cpu := startCPU()
	for b.Loop() {
		rep, err := Verify(context.Background(), dir, VerifyOptions{})
		if err != nil || !rep.OK() {
			b.Fatal(err, rep.Problems)
		}
	}
	cpu.report(b, size)
}

// FuzzVerify: whatever bytes a shard file holds, Verify reports problems and never panics.
func FuzzVerify(f *testing.F) {
	ds := writeExpShards(f, f.TempDir(), expOptions{n: 6, perFile: 6, batch: 4, noMeta: true})
	valid, err := os.ReadFile(filepath.Join(ds.dir, "00000.arrow"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	f.Add(valid[:len(valid)/2])
	f.Add([]byte("ARROW1\x00\x00garbage"))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "00000.arrow"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		rep, err := Verify(context.Background(), dir, VerifyOptions{DecodeImages: true})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(data, valid) && rep.OK() && rep.Rows != 6 {
			t.Fatalf("altered file with %d rows passed", rep.Rows)
		}
	})
}

// A footer that claims a huge block would make the arrow reader allocate it (a fatal
// out-of-memory); checkStructure reports it instead.
func TestVerifyHugeBlockIsReported(t *testing.T) {
	ds := writeExpShards(t, t.TempDir(), expOptions{n: 6, perFile: 6, batch: 4})
	path := filepath.Join(ds.dir, "00000.arrow")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	footerLen := int(binary.LittleEndian.Uint32(data[len(data)-10:]))
	fb := flatbuf(data[len(data)-10-footerLen : len(data)-10])
	root, _ := fb.u32(0)
	footer, err := fb.tableAt(root)
	if err != nil {
		t.Fatal(err)
	}
	start, n, err := footer.vector(3, 24)
	if err != nil || n != 2 {
		t.Fatalf("blocks: %d %v", n, err)
	}
	binary.LittleEndian.PutUint64(fb[start+24+16:], 1<<42) // second block's body: 4 TiB
	os.WriteFile(path, data, 0o644)
	rep, err := Verify(context.Background(), ds.dir, VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() || !strings.Contains(rep.Problems[0].String(), "00000.arrow: corrupt shard") || !strings.Contains(rep.Problems[0].Reason, "block 1") {
		t.Fatalf("problems %v", rep.Problems)
	}
	if _, err := Export(context.Background(), ds.dir, t.TempDir(), ExportOptions{Format: FormatParquet}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("export: %v", err)
	}
}
