package querymatch

// Separator masks: the tokenizer's first step is a bit mask of the
// separator bytes of the text (sepClass != sepNone), bit i of masks[i/64]
// for byte i. The assembly tokenizer (amd64) tests 32 bytes at a time with
// AVX2 (two table look-ups, sepNibbles) or, without AVX2, 16 bytes at a
// time with SSE2, as it goes; tokenizeGo takes the masks from sepMasks,
// which tests 8 bytes at a time in a 64-bit integer. TestSeparators checks
// sepMasks and sepNibbles against sepClass, TestAsmPasses the tokenizers
// against each other.

// maskWords is the length of the mask slice for a text of n bytes: one
// word per 64 bytes, and one for the end of the text.
func maskWords(n int) int { return n/64 + 1 }

// sepMasks writes the separator masks of buf[:n] (buf holds textPad
// readable bytes after n) to masks[:maskWords(n)]. Bits past n are zero.
func sepMasks(buf []byte, n int, masks []uint64) {
	for b, block := 0, 0; block <= n; b, block = b+1, block+64 {
		var seps uint64
		for k := 0; k < min(n-block, 64); k += 8 {
			s := separators(load8(buf, block+k)) >> 7
			seps |= (s * 0x02040810204081 >> 49 & 0xFF) << k
		}
		if n-block < 64 {
			seps &= 1<<(n-block) - 1 // the last 8 bytes may run past n
		}
		masks[b] = seps
	}
}

// SWAR constants: separator bytes are found 8 at a time (and appendFolded
// folds ASCII 8 bytes at a time).
const (
	lo7  = 0x7F7F7F7F7F7F7F7F
	hi1  = 0x8080808080808080
	ones = 0x0101010101010101
)

// nonZero sets the high bit of each byte of y that is not 0 (exactly: no
// carry crosses bytes).
func nonZero(y uint64) uint64 { return ((y & lo7) + lo7) | y }

// separators sets the high bit of each byte of x that is a separator:
// ' ' '!' (x|1 == '!'), ',' '.' (x|2 == '.'), ':' ';' (x|1 == ';'), '?', '`',
// '\t' '\r' (x|4 == '\r'), '\n' (the assembly tokenizer makes the same
// tests with SSE2). TestSeparators checks it against sepClass.
func separators(x uint64) uint64 {
	t := nonZero((x|ones)^('!'*ones)) & nonZero((x|2*ones)^('.'*ones)) & nonZero((x|ones)^(';'*ones)) &
		nonZero(x^('?'*ones)) & nonZero(x^('`'*ones)) & nonZero((x|4*ones)^('\r'*ones)) & nonZero(x^('\n'*ones))
	return ^t & hi1
}

// sepNibbles returns the AVX2 test's tables: byte c is a separator when
// lo[c&15] & hi[c>>4] != 0. Each bit stands for one high nibble (0, 2, 3,
// 6) and is set in lo for the low nibbles of that row's separators. For
// bytes of 0x80 and more the instruction gives 0 for lo: not separators.
func sepNibbles() (lo, hi [16]byte) {
	for c := range 128 {
		if sepClass[c] == sepNone {
			continue
		}
		bit := byte(1) << nibbleRow[c>>4]
		lo[c&15] |= bit
		hi[c>>4] = bit
	}
	return lo, hi
}

// nibbleRow numbers the high nibbles that have separators.
var nibbleRow = [8]byte{0: 0, 2: 1, 3: 2, 6: 3}
