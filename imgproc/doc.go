// Package imgproc turns downloaded image bytes into the fixed-size JPEG
// samples stored in training shards: img2dataset's "resizer".
//
// Data flow of Process:
//
//	bytes ─ Sniff (magic bytes: JPEG, PNG, GIF, WebP; else "format")
//	      ─ DecodeConfig: header dimensions only; > MaxPixels → "too_large"
//	        (decompression bombs are refused before any pixel is decoded),
//	        MinSize → "too_small", MaxAspect → "aspect"
//	      ─ EXIF orientation (JPEG APP1, PNG eXIf, WebP EXIF) read by a small
//	        bounds-checked parser
//	      ─ decode (stdlib / x/image/webp; GIF: first frame; decoder panics
//	        are recovered as "decode")
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
// "too_small", "aspect", "format") is meant for per-reason statistics.
// Process is safe for concurrent use; scratch buffers are pooled.
//
// Memory: a call holds the decoded image plus up to three full-resolution
// planes for non-JPEG sources: about 3–7 bytes per pixel, plus 4 bytes per
// coefficient for progressive JPEGs (12 bytes per pixel at 4:4:4), so
// MaxPixels bounds peak memory (40 MP default: ≤ ~500 MB worst case).
package imgproc
