package warc

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

type testRecord struct {
	typ, uri, body string
}

func sampleRecords(n int) []testRecord {
	out := make([]testRecord, n)
	for i := range out {
		// Bodies hold what a naive reader would take for record starts and blank lines.
		body := fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<p>page %d</p>\r\n\r\nWARC/1.0\r\nWARC-Type: response\r\n\r\n%s", i, strings.Repeat("x", i*37))
		out[i] = testRecord{TypeResponse, fmt.Sprintf("http://example.org/p/%d", i), body}
	}
	return out
}

// encode writes recs with Writer; each record's start offset is returned too.
func encode(t testing.TB, recs []testRecord, compress bool) ([]byte, []int64) {
	t.Helper()
	var buf bytes.Buffer
	w := NewWriter(&buf, compress)
	var offs []int64
	for _, r := range recs {
		offs = append(offs, w.Written())
		h := Header{Fields: []Field{{FieldType, r.typ}, {FieldRecordID, NewRecordID()}, {FieldTargetURI, r.uri}, {FieldDate, "2024-03-01T12:00:00Z"}}}
		if err := w.WriteRecord(&h, []byte(r.body)); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes(), offs
}

type readResult struct {
	recs   []testRecord
	counts Counts
	err    error // the non-EOF error Next returned, if any
}

// readAll reads data twice, one byte per source Read and all at once (so that the decoder's
// read-ahead runs far past member ends), and fails unless both readings agree.
func readAll(t testing.TB, data []byte, opts ReaderOptions) readResult {
	t.Helper()
	onSkip := opts.OnSkip
	opts.OnSkip = nil
	whole := readAllFrom(t, bytes.NewReader(data), opts)
	opts.OnSkip = onSkip
	res := readAllFrom(t, iotest.OneByteReader(bytes.NewReader(data)), opts)
	if fmt.Sprint(whole.recs, whole.counts, whole.err) != fmt.Sprint(res.recs, res.counts, res.err) {
		t.Fatalf("read in one piece: %d records, %+v, %v; one byte at a time: %d records, %+v, %v",
			len(whole.recs), whole.counts, whole.err, len(res.recs), res.counts, res.err)
	}
	return res
}

func readAllFrom(t testing.TB, src io.Reader, opts ReaderOptions) readResult {
	t.Helper()
	rd := NewReader(src, opts)
	var res readResult
	for {
		rec, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if res.err != nil {
				t.Fatalf("second error after %v: %v", res.err, err)
			}
			res.err = err
			continue
		}
		b, err := io.ReadAll(rec.Body)
		if err != nil {
			continue // a corrupt member: the record is dropped
		}
		if int64(len(b)) != rec.Length {
			t.Fatalf("body %d bytes, Content-Length %d", len(b), rec.Length)
		}
		res.recs = append(res.recs, testRecord{rec.Type(), rec.TargetURI(), string(b)})
	}
	res.counts = rd.Counts()
	return res
}

func TestRoundTrip(t *testing.T) {
	recs := sampleRecords(20)
	for _, compress := range []bool{true, false} {
		t.Run(fmt.Sprint("compress=", compress), func(t *testing.T) {
			data, offs := encode(t, recs, compress)
			res := readAll(t, data, ReaderOptions{})
			if res.err != nil {
				t.Fatal(res.err)
			}
			if fmt.Sprint(res.recs) != fmt.Sprint(recs) {
				t.Fatalf("records differ:\n%v\n%v", res.recs, recs)
			}
			if res.counts.Records != 20 || res.counts.BadMembers != 0 || res.counts.Malformed != 0 || res.counts.Truncated {
				t.Fatalf("counts %+v", res.counts)
			}
			if compress && res.counts.Members != 20 {
				t.Fatalf("members %d", res.counts.Members)
			}
			// Offsets point at each record, so a reader can start there.
			rd := NewReader(bytes.NewReader(data[offs[7]:]), ReaderOptions{})
			rec, err := rd.Next()
			if err != nil || rec.TargetURI() != recs[7].uri {
				t.Fatalf("record at offset %d: %v %v", offs[7], rec, err)
			}
		})
	}
}

func TestRecordOffsets(t *testing.T) {
	recs := sampleRecords(5)
	for _, compress := range []bool{true, false} {
		data, offs := encode(t, recs, compress)
		rd := NewReader(bytes.NewReader(data), ReaderOptions{})
		for i := range recs {
			rec, err := rd.Next()
			if err != nil {
				t.Fatal(err)
			}
			if rec.Offset != offs[i] {
				t.Fatalf("compress=%v record %d offset %d, want %d", compress, i, rec.Offset, offs[i])
			}
		}
	}
}

// TestWARC10 reads a hand-written WARC/1.0 file with LF-only lines, a continuation line and
// records of other types.
func TestWARC10(t *testing.T) {
	in := "WARC/1.0\r\nWARC-Type: warcinfo\r\nContent-Length: 11\r\n\r\nsoftware: x\r\n\r\n" +
		"WARC/1.0\nWARC-Type: response\nWARC-Target-URI: <http://a.example/>\nWARC-Date: 2016-02-05T21:52:39Z\nX-Long: one\n two\nContent-Length: 5\n\nhello\n\n"
	res := readAll(t, []byte(in), ReaderOptions{})
	if res.err != nil || len(res.recs) != 2 {
		t.Fatalf("%v %v", res.recs, res.err)
	}
	if res.recs[1] != (testRecord{TypeResponse, "http://a.example/", "hello"}) {
		t.Fatalf("%+v", res.recs[1])
	}
	rd := NewReader(strings.NewReader(in), ReaderOptions{})
	rd.Next()
	rec, _ := rd.Next()
	want := []Field{{FieldType, TypeResponse}, {FieldTargetURI, "<http://a.example/>"}, {FieldDate, "2016-02-05T21:52:39Z"},
		{"X-Long", "one two"}, {FieldContentLength, "5"}}
	if rec.Get("x-long") != "one two" || rec.Version != "WARC/1.0" || !slices.Equal(rec.Fields, want) {
		t.Fatalf("header %+v", rec.Header)
	}
	if d, err := rec.Date(); err != nil || d.Unix() != 1454709159 {
		t.Fatalf("date %v %v", d, err)
	}
}

func TestCorruptMemberInMiddle(t *testing.T) {
	recs := sampleRecords(10)
	data, offs := encode(t, recs, true)
	for _, tc := range []struct {
		name string
		at   func() int64 // offset of the damaged byte
	}{
		{"deflate data", func() int64 { return (offs[4] + offs[5]) / 2 }},
		{"member header", func() int64 { return offs[4] + 3 }},
		{"crc", func() int64 { return offs[5] - 6 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := bytes.Clone(data)
			bad[tc.at()] ^= 0x55
			var skips []Skip
			res := readAll(t, bad, ReaderOptions{OnSkip: func(s Skip) { skips = append(skips, s) }})
			if res.err != nil {
				t.Fatal(res.err)
			}
			want := append(append([]testRecord{}, recs[:4]...), recs[5:]...)
			if fmt.Sprint(res.recs) != fmt.Sprint(want) {
				t.Fatalf("got %d records, want all but #4", len(res.recs))
			}
			if res.counts.BadMembers != 1 || res.counts.Truncated {
				t.Fatalf("counts %+v", res.counts)
			}
			if len(skips) != 1 || skips[0].Reason != SkipBadMember || skips[0].Offset != offs[4] {
				t.Fatalf("skips %+v (member at %d)", skips, offs[4])
			}
		})
	}
}

// TestCorruptMembersLongArchive damages members of an archive many times the read buffers, with
// members larger than the decoder's read-ahead: every intact member is still read, also when
// members exceed MaxRewind (then only the records after a damaged one may be lost).
func TestCorruptMembersLongArchive(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	recs := make([]testRecord, 40)
	for i := range recs {
		body := make([]byte, 2000+rng.IntN(60000)) // random letters: compress to about 60%
		for j := range body {
			body[j] = 'a' + byte(rng.IntN(26))
		}
		recs[i] = testRecord{TypeResponse, fmt.Sprintf("http://example.org/p/%d", i), string(body)}
	}
	data, offs := encode(t, recs, true)
	damaged := []int{3, 17, 18, 30}
	bad := bytes.Clone(data)
	for _, i := range damaged {
		bad[(offs[i]+offs[i+1])/2] ^= 0x55
	}
	for _, maxRewind := range []int{0, 4 << 10} {
		t.Run(fmt.Sprint("rewind=", maxRewind), func(t *testing.T) {
			res := readAll(t, bad, ReaderOptions{MaxRewind: maxRewind})
			if res.err != nil {
				t.Fatal(res.err)
			}
			j := 0
			for _, got := range res.recs {
				for j < len(recs) && recs[j] != got {
					j++
				}
				if j == len(recs) || slices.Contains(damaged, j) {
					t.Fatalf("record %d read is not an intact original in order", j)
				}
				j++
			}
			want := len(recs) - len(damaged)
			if maxRewind > 0 {
				want -= len(damaged) // the member after each damaged one may be lost
			}
			if len(res.recs) < want || res.counts.BadMembers != int64(len(damaged)) {
				t.Fatalf("%d records read, want %d; counts %+v", len(res.recs), want, res.counts)
			}
		})
	}
}

// TestCorruptMemberSwallowsNext: garbage that inflates far past its member must not cost the
// next member: the rescan starts right after the bad member's start.
func TestCorruptMemberRescan(t *testing.T) {
	recs := sampleRecords(6)
	data, offs := encode(t, recs, true)
	// Replace member 2 with a header followed by stored-block garbage claiming 60 KB, which runs
	// over the following members.
	var junk bytes.Buffer
	junk.Write([]byte{0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 0xff})
	junk.Write([]byte{0x00, 0x60, 0xea, 0x9f, 0x15}) // stored block, LEN 60000
	bad := append(append(bytes.Clone(data[:offs[2]]), junk.Bytes()...), data[offs[3]:]...)
	res := readAll(t, bad, ReaderOptions{})
	want := append(append([]testRecord{}, recs[:2]...), recs[3:]...)
	if fmt.Sprint(res.recs) != fmt.Sprint(want) || res.counts.BadMembers != 1 {
		t.Fatalf("got %d records, counts %+v, err %v", len(res.recs), res.counts, res.err)
	}
}

func TestTruncatedFinalMember(t *testing.T) {
	recs := sampleRecords(8)
	data, offs := encode(t, recs, true)
	for _, cut := range []int64{offs[7] + 5, (offs[7] + int64(len(data))) / 2, int64(len(data)) - 3} {
		res := readAll(t, data[:cut], ReaderOptions{})
		if !errors.Is(res.err, ErrTruncated) {
			t.Fatalf("cut at %d: err %v", cut, res.err)
		}
		if fmt.Sprint(res.recs) != fmt.Sprint(recs[:7]) {
			t.Fatalf("cut at %d: %d records", cut, len(res.recs))
		}
		if !res.counts.Truncated || res.counts.BadMembers != 0 {
			t.Fatalf("cut at %d: counts %+v", cut, res.counts)
		}
	}
	// A cut at a member boundary loses nothing that was there: no truncation to report.
	res := readAll(t, data[:offs[7]], ReaderOptions{})
	if res.err != nil || len(res.recs) != 7 {
		t.Fatalf("cut at boundary: %d records, %v", len(res.recs), res.err)
	}
}

func TestTruncatedUncompressed(t *testing.T) {
	recs := sampleRecords(4)
	data, offs := encode(t, recs, false)
	for _, cut := range []int64{offs[3] + 4, offs[3] + 60, int64(len(data)) - 10} {
		res := readAll(t, data[:cut], ReaderOptions{})
		if !errors.Is(res.err, ErrTruncated) || len(res.recs) != 3 || !res.counts.Truncated {
			t.Fatalf("cut at %d: %d records, err %v", cut, len(res.recs), res.err)
		}
	}
}

func TestMalformedRecords(t *testing.T) {
	good := func(uri string) string {
		return "WARC/1.1\r\nWARC-Type: response\r\nWARC-Target-URI: " + uri + "\r\nContent-Length: 4\r\n\r\nbody\r\n\r\n"
	}
	cases := []struct {
		name, bad string
	}{
		{"no content length", "WARC/1.1\r\nWARC-Type: response\r\n\r\nxx\r\n\r\n"},
		{"bad content length", "WARC/1.1\r\nContent-Length: -3\r\n\r\nxx\r\n\r\n"},
		{"field without colon", "WARC/1.1\r\nthis is not a field\r\nContent-Length: 2\r\n\r\nxx\r\n\r\n"},
		{"junk", "GET / HTTP/1.1\r\nHost: x\r\n\r\n"},
		{"continuation first", "WARC/1.1\r\n folded\r\nContent-Length: 2\r\n\r\nxx\r\n\r\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := good("http://a/") + tc.bad + good("http://b/")
			for _, compress := range []bool{false, true} {
				data := []byte(in)
				if compress {
					// One member per piece, as a per-record writer would have made them.
					var buf bytes.Buffer
					for _, piece := range []string{good("http://a/"), tc.bad, good("http://b/")} {
						zw := gzip.NewWriter(&buf)
						zw.Write([]byte(piece))
						zw.Close()
					}
					data = buf.Bytes()
				}
				res := readAll(t, data, ReaderOptions{})
				if res.err != nil || len(res.recs) != 2 || res.recs[1].uri != "http://b/" {
					t.Fatalf("compress=%v: %+v %v", compress, res.recs, res.err)
				}
				if res.counts.Malformed != 1 {
					t.Fatalf("compress=%v: counts %+v", compress, res.counts)
				}
			}
		})
	}
}

func TestHeaderLimit(t *testing.T) {
	in := "WARC/1.1\r\nX-Big: " + strings.Repeat("a", 5000) + "\r\nContent-Length: 2\r\n\r\nxx\r\n\r\n" +
		"WARC/1.1\r\nWARC-Target-URI: http://ok/\r\nContent-Length: 2\r\n\r\nok\r\n\r\n"
	res := readAll(t, []byte(in), ReaderOptions{MaxHeaderBytes: 1024})
	if res.err != nil || len(res.recs) != 1 || res.recs[0].body != "ok" || res.counts.Malformed != 1 {
		t.Fatalf("%+v %+v %v", res.recs, res.counts, res.err)
	}
}

// TestWholeFileGzip reads records that share one gzip member, as `gzip file.warc` makes them.
func TestWholeFileGzip(t *testing.T) {
	recs := sampleRecords(5)
	plain, _ := encode(t, recs, false)
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(plain)
	zw.Close()
	res := readAll(t, buf.Bytes(), ReaderOptions{})
	if res.err != nil || fmt.Sprint(res.recs) != fmt.Sprint(recs) || res.counts.Members != 1 {
		t.Fatalf("%d records, %+v, %v", len(res.recs), res.counts, res.err)
	}
}

// TestPartialBodyRead: a caller that reads part of a body (or none) still gets the next record.
func TestPartialBodyRead(t *testing.T) {
	recs := sampleRecords(6)
	for _, compress := range []bool{true, false} {
		data, _ := encode(t, recs, compress)
		rd := NewReader(bytes.NewReader(data), ReaderOptions{})
		for i := range recs {
			rec, err := rd.Next()
			if err != nil {
				t.Fatal(err)
			}
			if rec.TargetURI() != recs[i].uri {
				t.Fatalf("record %d: %s", i, rec.TargetURI())
			}
			if i%2 == 0 {
				io.CopyN(io.Discard, rec.Body, 10)
			}
			if i == 3 {
				// A stale body fails instead of reading the wrong record.
				old := rec.Body
				rd.Next()
				if _, err := old.Read(make([]byte, 4)); err == nil {
					t.Fatal("stale body read succeeded")
				}
				break
			}
		}
	}
}

func TestEmptyInput(t *testing.T) {
	rd := NewReader(bytes.NewReader(nil), ReaderOptions{})
	if _, err := rd.Next(); err != io.EOF {
		t.Fatalf("empty input: %v", err)
	}
}

type errReader struct{ n int }

func (e *errReader) Read(p []byte) (int, error) {
	if e.n <= 0 {
		return 0, errors.New("network down")
	}
	p[0] = 'W'
	e.n--
	return 1, nil
}

// A failing source is an error, not damage to skip.
func TestSourceError(t *testing.T) {
	rd := NewReader(&errReader{n: 3}, ReaderOptions{})
	_, err := rd.Next()
	if err == nil || !strings.Contains(err.Error(), "network down") {
		t.Fatalf("err %v", err)
	}
	data, _ := encode(t, sampleRecords(3), true)
	rd = NewReader(io.MultiReader(bytes.NewReader(data[:len(data)-20]), &errReader{}), ReaderOptions{})
	var last error
	for {
		rec, err := rd.Next()
		if err != nil {
			last = err
			break
		}
		io.Copy(io.Discard, rec.Body)
	}
	if !strings.Contains(last.Error(), "network down") || errors.Is(last, ErrTruncated) {
		t.Fatalf("err %v", last)
	}
}
