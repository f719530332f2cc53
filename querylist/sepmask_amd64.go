//go:build !purego

package querylist

import "unsafe"

// sepMasks16 writes, for each 16-byte chunk of buf[:n] (rounded up), the
// 16-bit mask of its separator bytes to masks[chunk]. SSE2, which every
// amd64 processor has.
//
//go:noescape
func sepMasks16(buf *byte, n int, masks *uint16)

// sepMasks writes the separator masks of buf[:n] (buf holds textPad
// readable bytes after n) to masks[:maskWords(n)]. Bits past n are zero.
func sepMasks(buf []byte, n int, masks []uint64) {
	words := maskWords(n)
	if n < 0 || len(buf) < n+textPad || len(masks) < words {
		panic("querylist: sepMasks: short buffer")
	}
	masks[words-1] = 0 // the routine writes only the chunks that hold text
	sepMasks16(unsafe.SliceData(buf), n, (*uint16)(unsafe.Pointer(unsafe.SliceData(masks))))
	if r := n % 64; r != 0 {
		// The last chunk's bytes past n are padding (zero, not
		// separators), but be exact anyway.
		masks[words-1] &= 1<<r - 1
	}
}
