package warc

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"testing"
)

// FuzzReader feeds arbitrary bytes to the reader: it must end (EOF, truncation or nothing
// worse), never panic, and every body read to EOF must have its Content-Length.
func FuzzReader(f *testing.F) {
	data, _ := encode(f, sampleRecords(3), true)
	f.Add(data)
	plain, _ := encode(f, sampleRecords(3), false)
	f.Add(plain)
	f.Add([]byte("WARC/1.0\r\nContent-Length: 3\r\n\r\nabc\r\n\r\nWARC/1.1\r\nContent-Length: 99\r\n\r\nshort"))
	f.Add([]byte{0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 0xff, 1, 2, 3})
	f.Fuzz(func(t *testing.T, in []byte) {
		rd := NewReader(bytes.NewReader(in), ReaderOptions{MaxHeaderBytes: 4096, MaxRewind: 1 << 16})
		for i := 0; ; i++ {
			if i > len(in)+10 {
				t.Fatal("more records than input bytes")
			}
			rec, err := rd.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				if errors.Is(err, ErrTruncated) {
					continue // io.EOF follows
				}
				t.Fatalf("unexpected error: %v", err)
			}
			n, err := io.Copy(io.Discard, rec.Body)
			if err == nil && n != rec.Length {
				t.Fatalf("body %d bytes, Content-Length %d", n, rec.Length)
			}
		}
		if _, err := rd.Next(); err != io.EOF {
			t.Fatalf("after the end: %v", err)
		}
	})
}

// FuzzDamagedArchive damages a per-record-gzip archive (one byte changed, the end cut off):
// every record read intact must be one of the originals, in order, and every original whose
// member was neither changed nor cut must be read.
func FuzzDamagedArchive(f *testing.F) {
	f.Add(uint16(300), byte(0x40), uint16(0))
	f.Add(uint16(5), byte(0xff), uint16(100))
	f.Add(uint16(0), byte(1), uint16(7))
	recs := sampleRecords(8)
	data, offs := encode(f, recs, true)
	offs = append(offs, int64(len(data)))
	f.Fuzz(func(t *testing.T, pos uint16, xor byte, cut uint16) {
		bad := bytes.Clone(data)
		p := int64(pos) % int64(len(bad))
		bad[p] ^= xor
		if int(cut) < len(bad) {
			bad = bad[:len(bad)-int(cut)]
		}
		res := readAll(t, bad, ReaderOptions{})
		j := 0
		for _, got := range res.recs {
			for j < len(recs) && recs[j] != got {
				j++
			}
			if j == len(recs) {
				t.Fatalf("record %+v is not an original (or out of order)", got)
			}
			j++
		}
		// Every member that neither holds the damaged byte nor was cut must be read.
		intact := 0
		for i := range recs {
			hit := xor != 0 && offs[i] <= p && p < offs[i+1]
			if !hit && offs[i+1] <= int64(len(bad)) {
				intact++
			}
		}
		if len(res.recs) < intact {
			t.Fatalf("%d records read, %d intact before the damage", len(res.recs), intact)
		}
	})
}

// FuzzBlock reads arbitrary bytes with Record.Block and with Body's Reads: both must observe the
// same records, bytes, errors and counts.
func FuzzBlock(f *testing.F) {
	data, _ := encode(f, sampleRecords(3), true)
	f.Add(data)
	plain, _ := encode(f, sampleRecords(3), false)
	f.Add(plain)
	var whole bytes.Buffer // one member for every record
	zw := gzip.NewWriter(&whole)
	zw.Write(plain)
	zw.Close()
	f.Add(whole.Bytes())
	f.Add([]byte("WARC/1.0\r\nContent-Length: 3\r\n\r\nabc\r\n\r\nWARC/1.1\r\nContent-Length: 99\r\n\r\nshort"))
	f.Fuzz(func(t *testing.T, in []byte) {
		sameWithBlock(t, "input", in, ReaderOptions{MaxHeaderBytes: 4096, MaxRewind: 1 << 16})
	})
}
