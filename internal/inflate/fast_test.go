package inflate

import (
	"bytes"
	"testing"
	"unsafe"
)

// TestFastLayout checks the fastState offsets fast_amd64.s uses.
func TestFastLayout(t *testing.T) {
	var s fastState
	for _, f := range []struct {
		name      string
		got, want uintptr
	}{
		{"in", unsafe.Offsetof(s.in), 0}, {"pos", unsafe.Offsetof(s.pos), 8},
		{"inLimit", unsafe.Offsetof(s.inLimit), 16}, {"out", unsafe.Offsetof(s.out), 24},
		{"o", unsafe.Offsetof(s.o), 32}, {"outLimit", unsafe.Offsetof(s.outLimit), 40},
		{"buf", unsafe.Offsetof(s.buf), 48}, {"n", unsafe.Offsetof(s.n), 56},
	} {
		if f.got != f.want {
			t.Errorf("fastState.%s at %d, fast_amd64.s reads it at %d", f.name, f.got, f.want)
		}
	}
}

// TestFastAsmSameAsGo decodes every test input, each way it is compressed, with the fast loop
// in assembly and in Go (decodeBlockGo), and with the input and output cut short at every
// tenth of their length: the same bytes, input taken and errors. Under -tags purego, or on a
// CPU without BMI2, both runs take the Go loop.
func TestFastAsmSameAsGo(t *testing.T) {
	if !haveFastAsm {
		t.Log("no assembly fast loop in this build or on this CPU: comparing the Go loop with itself")
	}
	defer func(v bool) { haveFastAsm = v }(haveFastAsm)
	asm := haveFastAsm
	decode := func(useAsm bool, in, out []byte) (int, []byte, error) {
		haveFastAsm = useAsm
		var d Decompressor
		inN, outN, err := d.Gzip(in, out)
		return inN, out[:outN], err
	}
	for name, data := range testInputs(t) {
		for _, w := range []struct {
			klauspost bool
			level     int
		}{{false, 1}, {false, 6}, {false, -2}, {true, 5}, {true, 9}} {
			member := gzipOf(t, data, w.klauspost, w.level)
			for tenth := 10; tenth >= 1; tenth-- {
				in := member[:len(member)*tenth/10]
				outSize := len(data) * tenth / 10
				n1, b1, err1 := decode(asm, in, make([]byte, outSize+16))
				n2, b2, err2 := decode(false, in, make([]byte, outSize+16))
				if n1 != n2 || !bytes.Equal(b1, b2) || (err1 == nil) != (err2 == nil) || err1 != nil && err1.Error() != err2.Error() {
					t.Fatalf("%s, klauspost=%v level %d, %d/10: assembly %d bytes taking %d, %v; Go %d bytes taking %d, %v",
						name, w.klauspost, w.level, tenth, len(b1), n1, err1, len(b2), n2, err2)
				}
			}
		}
	}
}

// FuzzFastAsmSameAsGo: for any raw DEFLATE input, the assembly fast loop and decodeBlockGo give
// the same bytes, input taken and error.
func FuzzFastAsmSameAsGo(f *testing.F) {
	for _, name := range []string{"short text", "period 3", "far matches", "prose"} {
		member := gzipOf(f, testInputs(f)[name], false, 6)
		f.Add(member[10 : len(member)-8])
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if !haveFastAsm {
			t.Skip("no assembly fast loop")
		}
		var d Decompressor
		out1, out2 := make([]byte, 1<<20), make([]byte, 1<<20)
		n1, o1, err1 := d.Deflate(in, out1)
		haveFastAsm = false
		n2, o2, err2 := d.Deflate(in, out2)
		haveFastAsm = true
		if n1 != n2 || !bytes.Equal(out1[:o1], out2[:o2]) || (err1 == nil) != (err2 == nil) || err1 != nil && err1.Error() != err2.Error() {
			t.Fatalf("assembly %d bytes taking %d, %v; Go %d bytes taking %d, %v", o1, n1, err1, o2, n2, err2)
		}
	})
}
