package warc

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// traceBodies reads data and writes down what a caller sees: records, block bytes and errors,
// counts. Blocks are taken with Block (withBlock) or read with Body's Reads; every third record
// has a few bytes read with Read first, and every fifth is left to Next to skip.
func traceBodies(t testing.TB, src io.Reader, opts ReaderOptions, withBlock bool) []string {
	t.Helper()
	var trace []string
	opts.OnSkip = func(s Skip) { trace = append(trace, fmt.Sprintf("skip %+v", s)) }
	rd := NewReader(src, opts)
	var prev []byte
	var prevSum [32]byte
	for i := 0; i < 10000; i++ {
		rec, err := rd.Next()
		if withBlock && prev != nil && sha256.Sum256(prev) != prevSum {
			t.Fatalf("record %d: the previous block changed before Next", i)
		}
		prev = nil
		if err == io.EOF {
			break
		}
		trace = append(trace, fmt.Sprintf("next %v", err))
		if err != nil {
			continue
		}
		trace = append(trace, fmt.Sprintf("record offset=%d length=%d header=%v", rec.Offset, rec.Length, rec.Header))
		if i%5 == 4 {
			continue
		}
		var head []byte
		if i%3 == 1 {
			head = make([]byte, 7)
			n, err := io.ReadFull(rec.Body, head)
			head = head[:n]
			if err != nil {
				trace = append(trace, fmt.Sprintf("head %q %v", head, err))
				continue
			}
		}
		var rest []byte
		if withBlock {
			rest, err = rec.Block()
			if err == nil {
				if int64(len(head)+len(rest)) != rec.Length {
					t.Fatalf("record %d: block %d+%d bytes, Content-Length %d", i, len(head), len(rest), rec.Length)
				}
				prev, prevSum = rest, sha256.Sum256(rest)
			}
		} else {
			rest, err = io.ReadAll(rec.Body)
		}
		if err != nil {
			trace = append(trace, fmt.Sprintf("block error %v", err)) // Block gives no bytes then
			continue
		}
		trace = append(trace, fmt.Sprintf("block %x", sha256.Sum256(append(head, rest...))))
		// The record is done: Body and Block report its end.
		if n, err := rec.Body.Read(make([]byte, 1)); n != 0 || err != io.EOF {
			trace = append(trace, fmt.Sprintf("read after the end %d %v", n, err))
		}
	}
	return append(trace, fmt.Sprintf("end offset=%d counts=%+v", rd.Offset(), rd.Counts()))
}

// sameWithBlock fails unless Block and Body's Reads observe the same, with the input read in one
// piece and one byte per source Read.
func sameWithBlock(t *testing.T, name string, data []byte, opts ReaderOptions) {
	t.Helper()
	want := traceBodies(t, bytes.NewReader(data), opts, false)
	for _, src := range []struct {
		how string
		r   io.Reader
	}{{"in one piece", bytes.NewReader(data)}, {"one byte per Read", iotest.OneByteReader(bytes.NewReader(data))}} {
		got := traceBodies(t, src.r, opts, true)
		diffTraces(t, name+" ("+src.how+")", "Read", "Block", want, got)
	}
}

// diffTraces fails at the first event where two traces of the same input differ.
func diffTraces(t *testing.T, name, wantLabel, gotLabel string, want, got []string) {
	t.Helper()
	for i := range max(len(want), len(got)) {
		var w, g string
		if i < len(want) {
			w = want[i]
		}
		if i < len(got) {
			g = got[i]
		}
		if w != g {
			t.Fatalf("%s: event %d differs:\n%s: %.300s\n%s: %.300s", name, i, wantLabel, w, gotLabel, g)
		}
	}
}

// blockArchives are archives of small records and of blocks larger than the read buffers, per
// record gzip, uncompressed and gzip over the whole file (so that a member goes on after a block).
func blockArchives(t testing.TB) map[string][]byte {
	recs := sampleRecords(9)
	recs[3].body = strings.Repeat("a large block over the 64 KiB read buffer; ", 5000)
	recs[6].body = strings.Repeat("z", 300<<10)
	recs[7].body = ""
	gz, _ := encode(t, recs, true)
	plain, _ := encode(t, recs, false)
	var whole bytes.Buffer
	zw := gzip.NewWriter(&whole)
	zw.Write(plain)
	zw.Close()
	return map[string][]byte{"per-record gzip": gz, "uncompressed": plain, "whole-file gzip": whole.Bytes()}
}

func TestBlockSameAsRead(t *testing.T) {
	archives := blockArchives(t)
	// A header line over MaxHeaderBytes (a malformed record) grows the read buffer past the
	// whole-member path's output buffer.
	var long bytes.Buffer
	w := NewWriter(&long, true)
	for i, r := range sampleRecords(4) {
		h := Header{Fields: []Field{{FieldType, r.typ}, {FieldTargetURI, r.uri}}}
		if i == 1 {
			h.Fields = append(h.Fields, Field{"X-Long", strings.Repeat("v", 260<<10)})
		}
		if err := w.WriteRecord(&h, []byte(r.body)); err != nil {
			t.Fatal(err)
		}
	}
	archives["long header"] = long.Bytes()
	// A record with a long header line cut into gzip members of 50 KiB between records in members
	// of their own: the line grows the read buffer while the members stay small. Read with a
	// MaxHeaderBytes that lets it through.
	var cut bytes.Buffer
	for i, r := range sampleRecords(4) {
		h := Header{Fields: []Field{{FieldType, r.typ}, {FieldTargetURI, r.uri}}}
		if i == 1 {
			h.Fields = append(h.Fields, Field{"X-Long", strings.Repeat("v", 300<<10)})
		}
		var rec bytes.Buffer
		if err := NewWriter(&rec, false).WriteRecord(&h, []byte(r.body)); err != nil {
			t.Fatal(err)
		}
		for b := rec.Bytes(); len(b) > 0; b = b[min(len(b), 50<<10):] {
			zw := gzip.NewWriter(&cut)
			zw.Write(b[:min(len(b), 50<<10)])
			zw.Close()
		}
	}
	sameWithBlock(t, "long header lines across members", cut.Bytes(), ReaderOptions{MaxHeaderBytes: 1 << 20})
	archives["Content-Length far past the end"] = []byte("WARC/1.0\r\nContent-Length: 999999999999999\r\n\r\nshort")
	for name, data := range archives {
		sameWithBlock(t, name, data, ReaderOptions{})
		sameWithBlock(t, name+", MaxRewind 4 KiB", data, ReaderOptions{MaxRewind: 4 << 10})
		// Damage: a byte changed (in a member's header, deflate data or trailer, or a record's
		// header or block) and the end cut off.
		for i := 1; i < 40; i++ {
			bad := bytes.Clone(data)
			bad[i*len(bad)/40] ^= 0x21
			sameWithBlock(t, fmt.Sprintf("%s, byte %d changed", name, i*len(bad)/40), bad, ReaderOptions{})
			cut := data[:i*len(data)/40]
			sameWithBlock(t, fmt.Sprintf("%s, cut at %d", name, len(cut)), cut, ReaderOptions{})
		}
	}
}

func TestBlockOfHandMadeRecord(t *testing.T) {
	for _, tc := range []struct {
		body   string
		length int64
		ok     bool
	}{{"abc", 3, true}, {"abc", 4, false}, {"abcd", 3, false}} {
		rec := &Record{Length: tc.length, Body: strings.NewReader(tc.body)}
		b, err := rec.Block()
		if (err == nil) != tc.ok || tc.ok && string(b) != tc.body {
			t.Errorf("body %q, Length %d: %q %v", tc.body, tc.length, b, err)
		}
	}
}

// TestBlockAfterNext: a block taken after Next moved on fails as Read does.
func TestBlockAfterNext(t *testing.T) {
	data, _ := encode(t, sampleRecords(2), true)
	rd := NewReader(bytes.NewReader(data), ReaderOptions{})
	first, err := rd.Next()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rd.Next(); err != nil {
		t.Fatal(err)
	}
	if b, err := first.Block(); err == nil {
		t.Fatalf("block of a record passed over: %q", b)
	}
}
