// Package imgproc turns downloaded image bytes into the fixed-size JPEG
// samples stored in training shards: img2dataset's "resizer".
//
// Data flow of Process:
//
//	bytes ─ Sniff (magic bytes: JPEG, PNG, GIF, WebP; else "format")
//	      ─ DecodeConfig: header dimensions only; > MaxPixels → "too_large"
//	        (decompression bombs are refused before any pixel is decoded),
//	        MinSize → "too_small", MaxAspect → "aspect"; an output side over
//	        JPEG's 65,535 → "too_large"; the memory the decode, resize and
//	        encode will allocate, estimated from the header, the resize mode
//	        and the target size, over MaxMemory → "memory" (budget.go)
//	      ─ EXIF orientation (JPEG APP1, PNG eXIf, WebP EXIF) read by a small
//	        bounds-checked parser
//	      ─ decode (stdlib / x/image/webp; GIF: first frame; decoder panics
//	        are recovered as "decode"). JPEGs go through internal/jpegscale:
//	        at 1/2, 1/4 or 1/8 scale in the DCT domain when the resize would
//	        box-average at least that much anyway (jpegScale), else at full
//	        size; image/jpeg decodes what it refuses or finds broken
//	      ─ YCbCr planes, alpha composited on white (JPEG data stays in its
//	        native, possibly subsampled, planes: no RGBA round trip)
//	      ─ per-plane resize: integer box pre-reduction to ≥4× the target,
//	        then a separable fixed-point Catmull-Rom pass (see resize.go)
//	      ─ orientation, white padding or centre crop
//	      ─ JPEG encode from *image.YCbCr (quality 95, 4:2:0)
//	      ─ Result: JPEG, sizes, SHA-256 of the original bytes, 64-bit pHash.
//
// Resize modes follow img2dataset: ModeBorder (default: longer side = Size,
// padded white to Size×Size), ModeNo, ModeKeepRatio (shorter side = Size),
// ModeKeepRatioLargest (longer side = Size) and ModeCenterCrop. Like
// img2dataset, smaller images are upscaled unless ResizeOnlyIfBigger is set.
// Output sides are rounded to the nearest pixel; the side that defines the
// scale is exactly Size.
//
// Every failure is an *Error whose Reason ("decode", "too_large",
// "too_small", "aspect", "format", "memory") is meant for per-reason
// statistics.
// Process is safe for concurrent use; scratch buffers are pooled.
//
// Memory: a call holds the decoded image (1–8 bytes per pixel by format and
// bit depth, plus 4 bytes per coefficient for progressive JPEGs), up to three
// full-resolution planes for non-JPEG sources, and the resized planes, whose
// size depends on the mode: keep_ratio and center_crop of a 13,000,000×1
// strip would be 852 GB. MaxMemory (256 MiB by default) bounds all of it,
// decided before decoding; MaxPixels only bounds the decode.
package imgproc
