package warc

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/iotest"
)

// countingInflater counts the members the whole-member path decoded, so that a test knows the
// path under test was taken.
type countingInflater struct {
	inner wholeInflater
	ok    int
}

func (c *countingInflater) inflateGzip(in, out []byte) (int, int, error) {
	inN, outN, err := c.inner.inflateGzip(in, out)
	if err == nil {
		c.ok++
	}
	return inN, outN, err
}

// traceRead reads data and writes down everything a caller can observe: records, body bytes and
// errors, skips, counts, Offset at member ends and the final error. Every third body is left
// unread after a few bytes, so that Next skips the rest.
func traceRead(t testing.TB, src io.Reader, opts ReaderOptions, streamOnly bool) (trace []string, whole int) {
	t.Helper()
	opts.OnSkip = func(s Skip) { trace = append(trace, fmt.Sprintf("skip %+v", s)) }
	rd := NewReader(src, opts)
	ci := &countingInflater{inner: newWholeInflater()}
	rd.whole, rd.wholeOff = ci, streamOnly
	buf := make([]byte, 1000)
	for i := 0; ; i++ {
		rec, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			trace = append(trace, fmt.Sprintf("next error %v", err))
			if errors.Is(err, ErrTruncated) {
				continue // io.EOF follows
			}
			break // an error of the source is sticky
		}
		trace = append(trace, fmt.Sprintf("record offset=%d length=%d header=%v", rec.Offset, rec.Length, rec.Header))
		h := sha256.New()
		var berr error
		for n := 0; berr == nil; {
			if i%3 == 2 && n >= 10 {
				break
			}
			var k int
			k, berr = rec.Body.Read(buf)
			h.Write(buf[:k])
			n += k
		}
		trace = append(trace, fmt.Sprintf("body %x %v", h.Sum(nil), berr))
		if berr == io.EOF && !rd.inMember {
			// At a member's end Offset is exact; inside one the whole-member path has consumed
			// the member already and the streaming decoder only part of it.
			trace = append(trace, fmt.Sprintf("member end offset=%d counts=%+v", rd.Offset(), rd.Counts()))
		}
	}
	trace = append(trace, fmt.Sprintf("end offset=%d counts=%+v", rd.Offset(), rd.Counts()))
	return trace, ci.ok
}

// sameBothWays reads data with the whole-member inflater of this build (internal/inflate, or
// libdeflate under the build tag libdeflate) and with the streaming decoder alone, in one piece
// and one byte per source Read, and fails unless all readings observe the same. It returns how
// many members the whole-member inflater decoded.
func sameBothWays(t *testing.T, name string, data []byte, opts ReaderOptions) int {
	t.Helper()
	want, _ := traceRead(t, bytes.NewReader(data), opts, true)
	got, whole := traceRead(t, bytes.NewReader(data), opts, false)
	diffTraces(t, name+" (in one piece)", "streaming", "whole-member", want, got)
	got1, _ := traceRead(t, iotest.OneByteReader(bytes.NewReader(data)), opts, false)
	diffTraces(t, name+" (one byte per Read)", "streaming", "whole-member", want, got1)
	return whole
}

// diffArchive holds small records and some the whole-member path cannot take in one go: a member
// longer than its first read-ahead and one inflating past its output limit.
func diffArchive(t testing.TB) ([]byte, []int64) {
	recs := sampleRecords(12)
	rng := rand.New(rand.NewPCG(3, 4))
	letters := func(n int) string {
		b := make([]byte, n)
		for j := range b {
			b[j] = 'a' + byte(rng.IntN(26))
		}
		return string(b)
	}
	recs[3].body = letters(200 << 10)                  // about 120 KiB compressed
	recs[7].body = strings.Repeat("<p>x</p>", 6<<20/8) // 6 MiB, a few KiB compressed
	recs[9].body = letters(30 << 10)
	return encode(t, recs, true)
}

// gzipWithHeaderCRC writes one member with the FHCRC flag, which the whole-member inflaters do
// not check.
func gzipWithHeaderCRC(payload []byte, breakCRC bool) []byte {
	hdr := []byte{0x1f, 0x8b, 0x08, gzipFlagHeaderCRC, 0, 0, 0, 0, 0, 0xff}
	crc := uint16(crc32.ChecksumIEEE(hdr))
	if breakCRC {
		crc ^= 1
	}
	out := binary.LittleEndian.AppendUint16(bytes.Clone(hdr), crc)
	var z bytes.Buffer
	fw, _ := flate.NewWriter(&z, 6)
	fw.Write(payload)
	fw.Close()
	out = append(out, z.Bytes()...)
	out = binary.LittleEndian.AppendUint32(out, crc32.ChecksumIEEE(payload))
	return binary.LittleEndian.AppendUint32(out, uint32(len(payload)))
}

func TestWholeMemberSameAsStreaming(t *testing.T) {
	data, offs := diffArchive(t)
	offs = append(offs, int64(len(data)))
	if whole := sameBothWays(t, "intact", data, ReaderOptions{}); whole < 10 {
		t.Fatalf("the whole-member inflater decoded %d members of %d", whole, len(offs)-1)
	}
	sameBothWays(t, "intact, MaxRewind 4 KiB", data, ReaderOptions{MaxRewind: 4 << 10})

	small, soffs := encode(t, sampleRecords(12), true)
	soffs = append(soffs, int64(len(small)))
	// Damage: one byte in every part of a member (header, deflate data, CRC, ISIZE) and spread
	// over the whole archive, and in the long members.
	var at []int64
	for i := range len(soffs) - 1 {
		s, e := soffs[i], soffs[i+1]
		at = append(at, s, s+2, s+3, s+9, s+10, (s+e)/2, e-8, e-5, e-1)
	}
	for _, p := range at {
		for _, xor := range []byte{0x55, 0x01} {
			bad := bytes.Clone(small)
			bad[p] ^= xor
			sameBothWays(t, fmt.Sprintf("small, byte %d ^ %#x", p, xor), bad, ReaderOptions{})
		}
	}
	for _, i := range []int{3, 7, 9} {
		bad := bytes.Clone(data)
		bad[(offs[i]+offs[i+1])/2] ^= 0x55
		sameBothWays(t, fmt.Sprintf("member %d damaged", i), bad, ReaderOptions{})
		sameBothWays(t, fmt.Sprintf("member %d damaged, MaxRewind 4 KiB", i), bad, ReaderOptions{MaxRewind: 4 << 10})
	}
	// Truncation: every cut of the small archive, and cuts inside the long members.
	for cut := range len(small) {
		sameBothWays(t, fmt.Sprintf("small, cut at %d", cut), small[:cut], ReaderOptions{})
	}
	for _, i := range []int{3, 7, 9} {
		for _, cut := range []int64{offs[i] + 1, offs[i] + 20, (offs[i] + offs[i+1]) / 2, offs[i+1] - 4, offs[i+1] - 1} {
			sameBothWays(t, fmt.Sprintf("cut at %d in member %d", cut, i), data[:cut], ReaderOptions{})
		}
	}
	// Member layouts: one member for the whole file (small, and past the output limit), plain.
	plain, _ := encode(t, sampleRecords(30), false)
	for _, body := range [][]byte{plain, append(bytes.Repeat([]byte("\r\n"), 3<<20), plain...)} {
		var z bytes.Buffer
		zw := gzip.NewWriter(&z)
		zw.Write(body)
		zw.Close()
		sameBothWays(t, fmt.Sprintf("whole-file gzip of %d bytes", len(body)), z.Bytes(), ReaderOptions{})
		sameBothWays(t, "whole-file gzip, cut", z.Bytes()[:z.Len()-3], ReaderOptions{})
	}
	sameBothWays(t, "plain", plain, ReaderOptions{})
	// A member with a header CRC, right and wrong, between ordinary members.
	one, _ := encode(t, sampleRecords(1), false)
	for _, broken := range []bool{false, true} {
		in := append(append(bytes.Clone(small[:soffs[2]]), gzipWithHeaderCRC(one, broken)...), small[soffs[2]:]...)
		sameBothWays(t, fmt.Sprintf("header CRC broken=%v", broken), in, ReaderOptions{})
	}
	// Junk between members and at the start.
	junk := append(append(bytes.Clone(small[:soffs[4]]), "garbage\x1f\x8b\x08\x00 more"...), small[soffs[4]:]...)
	sameBothWays(t, "junk between members", junk, ReaderOptions{})
	sameBothWays(t, "junk at the start", append([]byte("junk\x1f\x8b"), small...), ReaderOptions{})
}

// FuzzWholeMemberSameAsStreaming: whatever the input, the whole-member path and the streaming
// decoder read the same records, errors, counts and offsets.
func FuzzWholeMemberSameAsStreaming(f *testing.F) {
	data, _ := encode(f, sampleRecords(4), true)
	f.Add(data, uint16(0), byte(0), uint16(0))
	f.Add(data, uint16(40), byte(0x55), uint16(0))
	f.Add(data, uint16(100), byte(1), uint16(30))
	f.Add([]byte{0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 0xff, 1, 2, 3}, uint16(0), byte(0), uint16(0))
	f.Fuzz(func(t *testing.T, in []byte, pos uint16, xor byte, cut uint16) {
		in = bytes.Clone(in)
		if len(in) > 0 {
			in[int(pos)%len(in)] ^= xor
		}
		if int(cut) < len(in) {
			in = in[:len(in)-int(cut)]
		}
		opts := ReaderOptions{MaxHeaderBytes: 4096, MaxRewind: 1 << 16}
		want, _ := traceRead(t, bytes.NewReader(in), opts, true)
		got, _ := traceRead(t, bytes.NewReader(in), opts, false)
		diffTraces(t, "fuzz", "streaming", "whole-member", want, got)
	})
}
