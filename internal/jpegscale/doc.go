// Package jpegscale decodes JPEG images at full size or at 1/2, 1/4 or 1/8 of it in the
// DCT domain, as libjpeg's scale_denom and Pillow's draft mode do: the thumbnails a dataset
// stores are 256 pixels, the photos they come from are often 1,000–6,000. At full size it
// is the AAN float inverse DCT (libjpeg's jidctflt) with one table look-up per typical AC
// coefficient, about twice image/jpeg's speed; imgproc decodes every JPEG with it.
//
// Why: decoding a 1920×1080 photo in full only to box-average it down to 960×540 spends
// most of the time on pixels nobody keeps. Averaging in the frequency domain is exact: the
// mean of a block's pixels over a 2×2, 4×4 or 8×8 group is a fixed weighted sum of its
// coefficients (idct.go), so the scaled transform gives the same pixels a full decode
// followed by a box filter would (up to rounding; differences only where the full decode
// clamps a ringing edge to 0 or 255 before the mean). imgproc uses it for the part of its
// box pre-reduction that is a power of two; everything else it does is unchanged.
//
// Data flow of Decode:
//
//	markers ─ DQT, DHT, DRI, SOF0/1/2 (8-bit, 1 or 3 components), APP0 JFIF, APP14 Adobe
//	        ─ SOS: entropy-coded data through bitReader (byte stuffing removed; stops at markers)
//	            baseline:    Huffman → dequantize → IDCT (full or scaled) → plane, block by block
//	            progressive: DC first/refine, AC first/refine (EOB runs, successive
//	                         approximation) into int16 coefficients, zig-zag order
//	        ─ EOI: progressive coefficients dequantized and transformed
//	        ─ *image.YCbCr in the file's subsampling, or *image.Gray
//
// What it refuses, with ErrUnsupported, so that the caller uses image/jpeg instead:
// arithmetic coding, lossless and hierarchical processes, 12-bit samples, CMYK, RGB
// (Adobe transform 0 or components named R, G, B, as image/jpeg decides), and chroma
// layouts image.YCbCr cannot hold. Malformed and truncated data is a FormatError: a scan
// that needs bits past its end (a cut-off download) fails instead of being padded with grey,
// so the images it accepts are, in practice, those image/jpeg accepts.
//
// Hostile input: every index is bounds-checked by Go and every loop is bounded by the
// header's block count, which the caller limits before decoding (imgproc checks MaxPixels
// and MaxMemory from the header), times the number of scans, which is capped at MaxScans
// (ErrTooManyScans: a kilobyte of empty progressive scans would otherwise walk a large
// frame thousands of times). Coefficient arithmetic is float32, so huge values become
// clamped pixels, never a crash. FuzzDecode runs it on mutated fixtures.
package jpegscale
