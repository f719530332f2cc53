package inflate

import (
	"bytes"
	stdflate "compress/flate"
	stdgzip "compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"strings"
	"testing"

	kflate "github.com/klauspost/compress/flate"
	kgzip "github.com/klauspost/compress/gzip"

	"github.com/witdata/wit/internal/testutil"
)

// testInputs are data of every kind the block types and copy paths meet: real HTML, runs and
// short periods (distances 1 to 7), incompressible bytes (stored blocks), a long input (several
// blocks, distances up to 32 KiB) and tiny ones (fixed-code blocks).
func testInputs(t testing.TB) map[string][]byte {
	rng := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 100<<10)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	words := strings.Fields("the quick brown fox jumps over a lazy dog while image alt text names every emoji")
	var prose strings.Builder
	for prose.Len() < 300<<10 {
		prose.WriteString(words[rng.IntN(len(words))])
		prose.WriteByte(" \n"[rng.IntN(8)/7])
	}
	in := map[string][]byte{
		"empty":      {},
		"one byte":   []byte("a"),
		"short text": []byte("Hello, hello, hello, WARC world!\r\n\r\n"),
		"run":        bytes.Repeat([]byte{'x'}, 70000),
		"random":     random,
		"prose":      []byte(prose.String()),
	}
	for period := 2; period <= 9; period++ {
		in[fmt.Sprintf("period %d", period)] = bytes.Repeat([]byte("abcdefghi"[:period]), 5000/period)
	}
	// Text with stretches copied from far back: distances across the whole window.
	far := append([]byte(nil), random[:40<<10]...)
	far = append(far, random[:300]...)
	far = append(far, random[20<<10:20<<10+5000]...)
	in["far matches"] = far
	for i, p := range testutil.LoadHTMLPages(t, "../../crawl/extract/testdata") {
		if i < 3 {
			in["page "+p.URL.Path] = p.Body
		}
	}
	return in
}

// gzipOf compresses data as one gzip member with Go's or klauspost's writer at level.
func gzipOf(t testing.TB, data []byte, klauspost bool, level int) []byte {
	t.Helper()
	var b bytes.Buffer
	var w io.WriteCloser
	var err error
	if klauspost {
		w, err = kgzip.NewWriterLevel(&b, level)
	} else {
		w, err = stdgzip.NewWriterLevel(&b, level)
	}
	if err != nil {
		t.Fatal(err)
	}
	// A flush in the middle leaves an empty stored block, as a sync flush does.
	half := len(data) / 2
	w.Write(data[:half])
	if f, ok := w.(interface{ Flush() error }); ok && len(data) > 1000 {
		f.Flush()
	}
	w.Write(data[half:])
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestGzipSameAsWriters(t *testing.T) {
	var d Decompressor
	out := make([]byte, 1<<20)
	for name, data := range testInputs(t) {
		for _, w := range []struct {
			klauspost bool
			level     int
		}{
			{false, stdflate.NoCompression}, {false, stdflate.HuffmanOnly}, {false, stdflate.BestSpeed},
			{false, stdflate.DefaultCompression}, {false, stdflate.BestCompression},
			{true, 1}, {true, 3}, {true, 5}, {true, 9}, {true, kflate.ConstantCompression},
		} {
			member := gzipOf(t, data, w.klauspost, w.level)
			// Another member follows: the bytes taken must stop at this one's end.
			in := append(bytes.Clone(member), gzipOf(t, []byte("next"), false, 6)...)
			inN, outN, err := d.Gzip(in, out)
			if err != nil {
				t.Fatalf("%s, klauspost=%v level %d: %v", name, w.klauspost, w.level, err)
			}
			if inN != len(member) || !bytes.Equal(out[:outN], data) {
				t.Fatalf("%s, klauspost=%v level %d: took %d of %d bytes, %d bytes out of %d, equal %v",
					name, w.klauspost, w.level, inN, len(member), outN, len(data), bytes.Equal(out[:outN], data))
			}
		}
	}
}

func TestShortInputAndOutput(t *testing.T) {
	var d Decompressor
	out := make([]byte, 1<<20)
	inputs := testInputs(t)
	for _, name := range []string{"short text", "period 3", "prose", "random"} {
		data := inputs[name]
		for _, member := range [][]byte{gzipOf(t, data, false, 6), gzipOf(t, data, false, 0), gzipOf(t, data, true, 1)} {
			step := max(1, len(member)/300)
			for cut := 0; cut < len(member); cut += step {
				if _, _, err := d.Gzip(member[:cut], out); !errors.Is(err, ErrShortInput) {
					t.Fatalf("%s cut at %d of %d: %v, want ErrShortInput", name, cut, len(member), err)
				}
			}
			step = max(1, len(data)/100)
			for size := 0; size < len(data); size += step {
				if _, _, err := d.Gzip(member, out[:size]); !errors.Is(err, ErrOutputFull) {
					t.Fatalf("%s into %d bytes of %d: %v, want ErrOutputFull", name, size, len(data), err)
				}
			}
			if _, n, err := d.Gzip(member, out[:len(data)]); err != nil || n != len(data) {
				t.Fatalf("%s into exactly %d bytes: %d, %v", name, len(data), n, err)
			}
		}
	}
}

func TestGzipHeader(t *testing.T) {
	payload := []byte("payload payload payload")
	var z bytes.Buffer
	fw, _ := stdflate.NewWriter(&z, 6)
	fw.Write(payload)
	fw.Close()
	trailer := binary.LittleEndian.AppendUint32(nil, crc32.ChecksumIEEE(payload))
	trailer = binary.LittleEndian.AppendUint32(trailer, uint32(len(payload)))
	member := func(flags byte, fields ...[]byte) []byte {
		m := []byte{0x1f, 0x8b, 8, flags, 0, 0, 0, 0, 0, 0xff}
		for _, f := range fields {
			m = append(m, f...)
		}
		return append(append(m, z.Bytes()...), trailer...)
	}
	extra := []byte{5, 0, 'a', 'b', 'c', 'd', 'e'}
	name := []byte("page.html\x00")
	longName := append(bytes.Repeat([]byte{'n'}, 511), 0)
	tooLong := append(bytes.Repeat([]byte{'n'}, 512), 0)
	for _, c := range []struct {
		name string
		in   []byte
		want error
	}{
		{"plain", member(0), nil},
		{"text flag", member(gzipFlagText), nil},
		{"extra, name and comment", member(gzipFlagExtra|gzipFlagName|gzipFlagComment, extra, name, []byte("a comment\x00")), nil},
		{"511-byte name", member(gzipFlagName, longName), nil},
		{"512-byte name", member(gzipFlagName, tooLong), ErrCorrupt},
		{"header CRC", member(gzipFlagHeadCRC, []byte{0, 0}), ErrHeaderCRC},
		{"reserved flag", member(0x20), ErrCorrupt},
		{"not gzip", append([]byte("WARC/1.1\r\n"), member(0)...), ErrCorrupt},
		{"method 7", append([]byte{0x1f, 0x8b, 7}, member(0)[3:]...), ErrCorrupt},
		{"bad CRC-32", append(member(0)[:len(member(0))-8], 1, 2, 3, 4, byte(len(payload)), 0, 0, 0), ErrCorrupt},
		{"bad length", append(member(0)[:len(member(0))-4], 1, 0, 0, 0), ErrCorrupt},
		{"name not ended", member(gzipFlagName)[:14], ErrShortInput},
		{"two bytes", []byte{0x1f, 0x8b}, ErrShortInput},
	} {
		var d Decompressor
		out := make([]byte, 100)
		_, n, err := d.Gzip(c.in, out)
		if !errors.Is(err, c.want) || (err == nil) != (c.want == nil) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
		if err == nil && !bytes.Equal(out[:n], payload) {
			t.Errorf("%s: %q", c.name, out[:n])
		}
	}
}

// bitWriter writes DEFLATE's bit order: fields least significant bit first, Huffman codes most
// significant bit first.
type bitWriter struct {
	out  []byte
	bits uint64
	n    uint
}

func (w *bitWriter) field(v uint64, n uint) {
	w.bits |= v << w.n
	w.n += n
	for w.n >= 8 {
		w.out = append(w.out, byte(w.bits))
		w.bits >>= 8
		w.n -= 8
	}
}

func (w *bitWriter) code(c uint64, n uint) {
	for i := int(n) - 1; i >= 0; i-- {
		w.field(c>>uint(i)&1, 1)
	}
}

func (w *bitWriter) bytes() []byte {
	if w.n > 0 {
		return append(w.out, byte(w.bits))
	}
	return w.out
}

// dynamicStart writes a final dynamic block's first fields: the code counts and the code length
// code, precodeLen giving each symbol's length.
func dynamicStart(w *bitWriter, numLitlen, numDist int, precodeLen func(sym uint8) uint64) {
	w.field(1, 1) // final
	w.field(2, 2) // dynamic
	w.field(uint64(numLitlen-257), 5)
	w.field(uint64(numDist-1), 5)
	w.field(19-4, 4)
	for _, sym := range precodeOrder {
		w.field(precodeLen(sym), 3)
	}
}

// dynamicHeader writes a final dynamic block's header for the given code lengths, with a
// precode giving lengths 0-15 a 4-bit code each (the code of length l is l itself).
func dynamicHeader(w *bitWriter, litlen, dist []uint8) {
	dynamicStart(w, len(litlen), len(dist), func(sym uint8) uint64 {
		if sym < 16 {
			return 4
		}
		return 0
	})
	for _, l := range append(append([]uint8(nil), litlen...), dist...) {
		w.code(uint64(l), 4)
	}
}

// handMade returns a dynamic block whose literal/length code is litlen (symbol -> length; all
// others 0) and distance code dist, followed by the codes in body.
func handMade(litlen map[int]uint8, numDist int, dist map[int]uint8, body func(w *bitWriter)) []byte {
	ll := make([]uint8, 257)
	for s, l := range litlen {
		if s >= len(ll) {
			ll = append(ll, make([]uint8, s+1-len(ll))...)
		}
		ll[s] = l
	}
	dl := make([]uint8, numDist)
	for s, l := range dist {
		dl[s] = l
	}
	var w bitWriter
	dynamicHeader(&w, ll, dl)
	body(&w)
	return w.bytes()
}

func TestDeflateHandMade(t *testing.T) {
	// 'a' = 0, end of block = 10, length 3 (257) = 11; distance 1 (symbol 0) = 0.
	simple := map[int]uint8{'a': 1, 256: 2, 257: 2}
	aaaa := func(w *bitWriter) { w.code(0, 1); w.code(3, 2); w.code(0, 1); w.code(2, 2) }
	for _, c := range []struct {
		name string
		in   []byte
		want string
		err  error
	}{
		{"single distance code of length 1", handMade(simple, 1, map[int]uint8{0: 1}, aaaa), "aaaa", nil},
		// 'a'..'n' take 1..14 bits, 'o' and the end of block 15: codes in subtables.
		{"15-bit codes", handMade(longCodes(), 1, nil, func(w *bitWriter) { w.code(0x7ffe, 15); w.code(0, 1); w.code(0x7fff, 15) }), "oa", nil},
		{"no distance codes, no matches", handMade(simple, 1, nil, func(w *bitWriter) { w.code(0, 1); w.code(2, 2) }), "a", nil},
		{"no distance codes, a match", handMade(simple, 1, nil, aaaa), "", ErrCorrupt},
		{"incomplete distance code", handMade(simple, 2, map[int]uint8{0: 2, 1: 2}, aaaa), "", ErrCorrupt},
		{"over-subscribed literal/length code", handMade(map[int]uint8{'a': 1, 'b': 1, 256: 1}, 1, nil, aaaa), "", ErrCorrupt},
		{"incomplete literal/length code", handMade(map[int]uint8{'a': 2, 256: 2}, 1, nil, aaaa), "", ErrCorrupt},
		{"no end-of-block code", handMade(map[int]uint8{'a': 1, 'b': 1}, 1, nil, aaaa), "", ErrCorrupt},
		{"distance before the output", handMade(simple, 1, map[int]uint8{0: 1}, func(w *bitWriter) { w.code(3, 2); w.code(0, 1) }), "", ErrCorrupt},
		{"31 distance codes", handMade(simple, 31, map[int]uint8{30: 1}, aaaa), "", ErrCorrupt},
		{"fixed code", fixedBlock(func(w *bitWriter) { w.code(0x30+'a', 8); w.code(1, 7); w.code(0, 5); w.code(0, 7) }), "aaaa", nil},
		{"fixed code, distance symbol 30", fixedBlock(func(w *bitWriter) { w.code(0x30+'a', 8); w.code(1, 7); w.code(30, 5) }), "", ErrCorrupt},
		{"fixed code, length symbol 286", fixedBlock(func(w *bitWriter) { w.code(0x30+'a', 8); w.code(0xc0+286-280, 8) }), "", ErrCorrupt},
		{"repeat with no length before it", repeatFirst(), "", ErrCorrupt},
		{"incomplete code length code", incompletePrecode(), "", ErrCorrupt},
		{"reserved block type", []byte{0x07}, "", ErrCorrupt},
		{"stored length check", []byte{0x01, 0x05, 0x00, 0xfa, 0xfe, 'h', 'e', 'l', 'l', 'o'}, "", ErrCorrupt},
		{"stored block", []byte{0x01, 0x05, 0x00, 0xfa, 0xff, 'h', 'e', 'l', 'l', 'o'}, "hello", nil},
	} {
		var d Decompressor
		out := make([]byte, 100)
		n, outN, err := d.Deflate(c.in, out)
		if !errors.Is(err, c.err) || (err == nil) != (c.err == nil) {
			t.Errorf("%s: %v, want %v", c.name, err, c.err)
			continue
		}
		if err == nil && (string(out[:outN]) != c.want || n != len(c.in)) {
			t.Errorf("%s: %q taking %d of %d bytes, want %q", c.name, out[:outN], n, len(c.in), c.want)
		}
		// klauspost/compress judges the same.
		kout, kerr := io.ReadAll(kflate.NewReader(bytes.NewReader(c.in)))
		if (kerr == nil) != (err == nil) || err == nil && !bytes.Equal(kout, out[:outN]) {
			t.Errorf("%s: klauspost/compress gives %q, %v", c.name, kout, kerr)
		}
	}
}

// longCodes is a complete literal/length code with codes of every length: 'a' + i takes i+1 bits
// (1 to 14), 'o' and the end-of-block code 15.
func longCodes() map[int]uint8 {
	m := map[int]uint8{'o': 15, 256: 15}
	for i := range 14 {
		m['a'+i] = uint8(i + 1)
	}
	return m
}

// fixedBlock returns a final block of the fixed code holding body's codes.
func fixedBlock(body func(w *bitWriter)) []byte {
	var w bitWriter
	w.field(1, 1)
	w.field(1, 2)
	body(&w)
	return w.bytes()
}

// repeatFirst returns a dynamic block whose first code length is a repeat of the one before:
// its code length code gives 0-14 four bits and 15 and 16 five (complete).
func repeatFirst() []byte {
	var w bitWriter
	dynamicStart(&w, 257, 1, func(sym uint8) uint64 {
		switch {
		case sym < 15:
			return 4
		case sym < 17:
			return 5
		}
		return 0
	})
	w.code(0x1f, 5) // 16
	w.field(0, 2)
	return w.bytes()
}

// incompletePrecode returns a dynamic block whose code length code is incomplete.
func incompletePrecode() []byte {
	var w bitWriter
	dynamicStart(&w, 257, 1, func(uint8) uint64 { return 5 }) // 19 codes of length 5
	return w.bytes()
}

// klauspostMember decodes the first gzip member of in as klauspost/compress does, up to limit
// bytes, and returns the bytes of in it took.
func klauspostMember(in []byte, limit int) (out []byte, taken int, err error) {
	src := bytes.NewReader(in) // an io.ByteReader: the decoder reads no byte past the member
	zr, err := kgzip.NewReader(src)
	if err != nil {
		return nil, 0, err
	}
	zr.Multistream(false)
	out, err = io.ReadAll(io.LimitReader(zr, int64(limit)+1))
	return out, len(in) - src.Len(), err
}

// FuzzSameAsKlauspost: for any input, this package and klauspost/compress agree on whether the
// first gzip member decodes, and if it does, on its bytes and on the input it takes.
func FuzzSameAsKlauspost(f *testing.F) {
	for _, name := range []string{"short text", "period 3", "run"} {
		data := testInputs(f)[name]
		for _, level := range []int{0, 1, 6} {
			f.Add(gzipOf(f, data, false, level))
		}
	}
	f.Add(gzipOf(f, []byte("x"), true, 1))
	f.Fuzz(func(t *testing.T, in []byte) {
		const limit = 1 << 20
		var d Decompressor
		out := make([]byte, limit)
		inN, outN, err := d.Gzip(in, out)
		want, taken, kerr := klauspostMember(in, limit)
		switch {
		case err == nil && kerr != nil:
			t.Fatalf("decoded %d bytes; klauspost/compress: %v", outN, kerr)
		case err == nil && (!bytes.Equal(out[:outN], want) || inN != taken):
			t.Fatalf("decoded %d bytes taking %d; klauspost/compress %d bytes taking %d", outN, inN, len(want), taken)
		case err != nil && kerr == nil && len(want) <= limit && !errors.Is(err, ErrHeaderCRC):
			t.Fatalf("%v; klauspost/compress decoded %d bytes", err, len(want))
		}
	})
}

// FuzzDeflateSameAsKlauspost is FuzzSameAsKlauspost for raw DEFLATE, where no CRC-32 hides a
// decoding difference: the two agree on success, on the bytes out and on the input taken.
func FuzzDeflateSameAsKlauspost(f *testing.F) {
	for _, name := range []string{"short text", "period 3", "run", "far matches"} {
		data := testInputs(f)[name]
		for _, level := range []int{0, 1, 6} {
			member := gzipOf(f, data, false, level)
			f.Add(member[10 : len(member)-8])
		}
	}
	f.Add(repeatFirst())
	f.Add(fixedBlock(func(w *bitWriter) { w.code(0x30+'a', 8); w.code(1, 7); w.code(0, 5); w.code(0, 7) }))
	f.Fuzz(func(t *testing.T, in []byte) {
		const limit = 1 << 20
		var d Decompressor
		out := make([]byte, limit)
		inN, outN, err := d.Deflate(in, out)
		src := bytes.NewReader(in)
		want, kerr := io.ReadAll(io.LimitReader(kflate.NewReader(src), limit+1))
		taken := len(in) - src.Len()
		switch {
		case err == nil && kerr != nil:
			t.Fatalf("decoded %d bytes; klauspost/compress: %v", outN, kerr)
		case err == nil && (!bytes.Equal(out[:outN], want) || inN != taken):
			t.Fatalf("decoded %d bytes taking %d; klauspost/compress %d bytes taking %d", outN, inN, len(want), taken)
		case err != nil && kerr == nil && len(want) <= limit:
			t.Fatalf("%v; klauspost/compress decoded %d bytes", err, len(want))
		}
	})
}
