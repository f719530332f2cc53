// Package jpegenc writes the baseline 4:2:0 JPEGs stored in training shards, from the three
// full-resolution planes imgproc renders: the kind of file image/jpeg writes (its
// quantization tables and quality scaling, the standard Huffman tables of ITU T.81 Annex K,
// plus a JFIF header), about 1.7× as fast. The bytes differ from image/jpeg's, since the
// float DCT rounds a few coefficients the other way; decoded, the two are equally close to
// the source.
//
// Why: after wit's decoder and vector resampling, image/jpeg's encoder was about half of
// the CPU a web-sized image costs in `wit fetch`. Its time went to a division per
// coefficient, to building 16×16 chroma blocks from the image one pixel at a time through
// interfaces, and to its bit writer. Here the planes are read directly, chroma is averaged
// 2×2 straight into 8×8 blocks, the forward DCT is the AAN float one (libjpeg's
// jfdctflt) with its scale factors and the quantizer folded into one multiplier per
// coefficient, and bits go through a 64-bit accumulator.
//
// Data flow of Encode420, one 16×16 MCU at a time:
//
//	planes ─ 4 luma blocks, 2 chroma blocks averaged 2×2 (edges replicated past w×h)
//	       ─ level shift, forward DCT, × (scale / quantizer), rounded
//	       ─ DC difference and AC run lengths, Huffman codes, 0xFF stuffing
//
// The output is checked against image/jpeg's encoder by decoding both (TestMatchesImageJPEG).
package jpegenc
