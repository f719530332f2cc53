//go:build !amd64 || purego

package querylist

// sepMasks writes the separator masks of buf[:n] (buf holds textPad
// readable bytes after n) to masks[:maskWords(n)]. Bits past n are zero.
func sepMasks(buf []byte, n int, masks []uint64) { sepMasksSWAR(buf, n, masks) }
