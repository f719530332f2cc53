package imgproc

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"math"
	"strings"

	"golang.org/x/image/webp"

	"github.com/witdata/wit/internal/jpegscale"
)

// ResizeMode selects how an image is fitted to Options.Size. The names and
// semantics follow img2dataset's resize_mode.
type ResizeMode int

const (
	// ModeBorder fits the image inside Size×Size (longer side = Size) and pads
	// it with white, centred, to a Size×Size square. img2dataset's default.
	ModeBorder ResizeMode = iota
	// ModeNo keeps the original dimensions (the image is still re-encoded).
	ModeNo
	// ModeKeepRatio scales so that the shorter side is Size.
	ModeKeepRatio
	// ModeKeepRatioLargest scales so that the longer side is Size.
	ModeKeepRatioLargest
	// ModeCenterCrop scales so that the shorter side is Size, then crops the
	// centre Size×Size square.
	ModeCenterCrop
)

var modeNames = [...]string{
	ModeBorder:           "border",
	ModeNo:               "no",
	ModeKeepRatio:        "keep_ratio",
	ModeKeepRatioLargest: "keep_ratio_largest",
	ModeCenterCrop:       "center_crop",
}

// String returns img2dataset's name for the mode.
func (m ResizeMode) String() string {
	if m >= 0 && int(m) < len(modeNames) {
		return modeNames[m]
	}
	return fmt.Sprintf("ResizeMode(%d)", int(m))
}

// ParseResizeMode parses img2dataset's mode names ("no", "border",
// "keep_ratio", "keep_ratio_largest", "center_crop").
func ParseResizeMode(s string) (ResizeMode, error) {
	for i, n := range modeNames {
		if strings.EqualFold(s, n) {
			return ResizeMode(i), nil
		}
	}
	return 0, fmt.Errorf("imgproc: unknown resize mode %q (want one of %s)", s, strings.Join(modeNames[:], ", "))
}

// Defaults used when an Options field is zero.
const (
	DefaultSize      = 256
	DefaultQuality   = 95
	DefaultMaxPixels = 40_000_000
)

// Options controls Process. Zero fields take the defaults above, so
// Options{} behaves like DefaultOptions().
type Options struct {
	Size int        // target size in pixels (default 256)
	Mode ResizeMode // resize mode (default ModeBorder)
	// Quality is the output JPEG quality, 1..100 (default 95).
	Quality int
	// MaxPixels refuses images whose header declares more than this many
	// pixels, before any pixel data is decoded (default 40 MP; negative = no
	// limit). Peak memory per call is roughly 4–12 bytes per pixel.
	MaxPixels int64
	// MinSize refuses images whose shorter side is below it (0 = no limit).
	MinSize int
	// MaxAspect refuses images whose longer/shorter side ratio exceeds it
	// (0 = no limit).
	MaxAspect float64
	// ResizeOnlyIfBigger skips the resize when the image is already within
	// the target (img2dataset's resize_only_if_bigger). By default, like
	// img2dataset, smaller images are upscaled.
	ResizeOnlyIfBigger bool
	// MaxMemory refuses images whose decoding, resizing and encoding would
	// allocate more than this many bytes, estimated from the header before
	// anything is decoded (see budget.go; default DefaultMaxMemory; negative =
	// no limit). It bounds a call's memory whatever the image's shape, size,
	// bit depth or resize mode: n concurrent calls hold at most n×MaxMemory.
	MaxMemory int64
}

// DefaultOptions returns img2dataset's defaults: 256 px, border, quality 95.
func DefaultOptions() Options {
	return Options{Size: DefaultSize, Mode: ModeBorder, Quality: DefaultQuality, MaxPixels: DefaultMaxPixels}
}

func (o Options) withDefaults() Options {
	if o.Size <= 0 {
		o.Size = DefaultSize
	}
	if o.Quality <= 0 {
		o.Quality = DefaultQuality
	}
	if o.Quality > 100 {
		o.Quality = 100
	}
	if o.MaxPixels == 0 {
		o.MaxPixels = DefaultMaxPixels
	}
	if o.MaxMemory == 0 {
		o.MaxMemory = DefaultMaxMemory
	}
	return o
}

// Result is one processed image.
type Result struct {
	JPEG                  []byte   // the resized image, baseline JPEG (4:2:0)
	Width, Height         int      // dimensions of JPEG
	OrigWidth, OrigHeight int      // original dimensions as displayed (after EXIF orientation)
	SHA256                [32]byte // of the original bytes
	PHash                 uint64   // perceptual hash, see PHash
	Format                string   // source format: "jpeg", "png", "gif" or "webp"
}

// Failure reasons carried by *Error.
const (
	ReasonDecode   = "decode"    // corrupt, truncated or unsupported data
	ReasonTooLarge = "too_large" // declared pixel count over MaxPixels, or an output side over JPEG's 65,535
	ReasonMemory   = "memory"    // decoding and resizing would allocate more than MaxMemory
	ReasonTooSmall = "too_small" // shorter side under MinSize
	ReasonAspect   = "aspect"    // aspect ratio over MaxAspect
	ReasonFormat   = "format"    // not JPEG, PNG, GIF or WebP
)

// Error is the only error type Process returns. Reason is one of the Reason*
// constants and is meant for per-reason failure counts.
type Error struct {
	Reason string
	Err    error
}

func (e *Error) Error() string {
	if e.Err == nil {
		return "imgproc: " + e.Reason
	}
	return "imgproc: " + e.Reason + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// ReasonOf returns the Reason of an *Error in err's chain, or "" if none.
func ReasonOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}

func fail(reason string, format string, args ...any) *Error {
	return &Error{Reason: reason, Err: fmt.Errorf(format, args...)}
}

// Sniff returns the image format from the magic bytes: "jpeg", "png",
// "gif", "webp", or "" if unknown.
func Sniff(data []byte) string {
	switch {
	case len(data) >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF:
		return "jpeg"
	case len(data) >= 8 && string(data[:8]) == "\x89PNG\r\n\x1a\n":
		return "png"
	case len(data) >= 6 && (string(data[:6]) == "GIF87a" || string(data[:6]) == "GIF89a"):
		return "gif"
	case len(data) >= 12 && string(data[:4]) == "RIFF" && string(data[8:12]) == "WEBP":
		return "webp"
	}
	return ""
}

// decodeConfig and decode dispatch on the sniffed format so that no other
// registered image decoder (BMP, TIFF, ...) is reachable from hostile input.
func decodeConfig(format string, data []byte) (cfg image.Config, err error) {
	defer recoverDecode(&err)
	r := bytes.NewReader(data)
	switch format {
	case "jpeg":
		return jpeg.DecodeConfig(r)
	case "png":
		return png.DecodeConfig(r)
	case "gif":
		return gif.DecodeConfig(r)
	case "webp":
		return webp.DecodeConfig(r)
	}
	return image.Config{}, errors.New("unknown format")
}

func decode(format string, data []byte) (img image.Image, err error) {
	defer recoverDecode(&err)
	r := bytes.NewReader(data)
	switch format {
	case "jpeg":
		return jpeg.Decode(r)
	case "png":
		return png.Decode(r)
	case "gif":
		return gif.Decode(r) // first frame only
	case "webp":
		return webp.Decode(r)
	}
	return nil, errors.New("unknown format")
}

// jpegScale is the factor (1, 2, 4 or 8) a w×h JPEG can be decoded smaller by, in the DCT
// domain, for this output: the largest that still leaves resizePlane boxHeadroom× the content
// size. The scaled decode is the mean of each scale×scale block, so it does exactly the first
// part of the box pre-reduction resizePlane would do anyway, without the inverse DCT,
// upsampling and box passes over the full-size pixels.
func jpegScale(w, h, orient int, o Options) int {
	ow, oh := w, h
	if orient >= 5 {
		ow, oh = h, w
	}
	cw, ch, _, _ := targetSize(ow, oh, o)
	if orient >= 5 {
		cw, ch = ch, cw
	}
	return jpegscale.Scale(w, h, boxHeadroom*cw, boxHeadroom*ch)
}

func decodeJPEGScaled(data []byte, scale int) (img image.Image, err error) {
	defer recoverDecode(&err)
	return jpegscale.Decode(data, scale)
}

// recoverDecode turns a panic inside a third-party decoder into an error, so
// one hostile image cannot take the process down.
func recoverDecode(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("decoder panic: %v", r)
	}
}

// Process decodes an image, validates it, applies EXIF orientation,
// composites alpha on white, resizes it per opts and encodes it as JPEG.
// Every error is an *Error. The header is checked against MaxPixels,
// MinSize, MaxAspect and MaxMemory before any pixel is decoded. data is not
// retained.
func Process(data []byte, opts Options) (*Result, error) {
	opts = opts.withDefaults()
	format := Sniff(data)
	if format == "" {
		return nil, fail(ReasonFormat, "unrecognised magic bytes (want JPEG, PNG, GIF or WebP)")
	}
	cfg, err := decodeConfig(format, data)
	if err != nil {
		return nil, &Error{Reason: ReasonDecode, Err: fmt.Errorf("%s header: %w", format, err)}
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, fail(ReasonDecode, "%s header: empty image %dx%d", format, cfg.Width, cfg.Height)
	}
	if opts.MaxPixels > 0 && int64(cfg.Width)*int64(cfg.Height) > opts.MaxPixels {
		return nil, fail(ReasonTooLarge, "%dx%d is over %d pixels", cfg.Width, cfg.Height, opts.MaxPixels)
	}
	orient := 1
	switch format {
	case "jpeg":
		orient = ExifOrientation(data)
	case "png":
		orient = pngOrientation(data)
	case "webp":
		orient = webpOrientation(data)
	}
	ow, oh := cfg.Width, cfg.Height
	if orient >= 5 {
		ow, oh = oh, ow
	}
	short, long := min(ow, oh), max(ow, oh)
	if opts.MinSize > 0 && short < opts.MinSize {
		return nil, fail(ReasonTooSmall, "%dx%d: shorter side under %d", ow, oh, opts.MinSize)
	}
	if opts.MaxAspect > 0 && float64(long)/float64(short) > opts.MaxAspect {
		return nil, fail(ReasonAspect, "%dx%d: aspect ratio %.2f over %.2f", ow, oh, float64(long)/float64(short), opts.MaxAspect)
	}
	// Everything below is sized by the header and the resize mode: refuse what cannot be
	// encoded or would not fit the budget before a byte is decoded.
	if _, _, canvasW, canvasH := targetSize(ow, oh, opts); canvasW > maxJPEGSide || canvasH > maxJPEGSide {
		return nil, fail(ReasonTooLarge, "%dx%d: %s output %dx%d has a side over JPEG's %d", ow, oh, opts.Mode, canvasW, canvasH, maxJPEGSide)
	}
	if need := memoryEstimate(format, cfg, data, orient, opts); opts.MaxMemory > 0 && need > float64(opts.MaxMemory) {
		return nil, fail(ReasonMemory, "%dx%d %s to %s %d needs about %.0f MiB, over the %.0f MiB budget",
			ow, oh, format, opts.Mode, opts.Size, need/(1<<20), float64(opts.MaxMemory)/(1<<20))
	}

	var img image.Image
	scale := 1
	if format == "jpeg" {
		// internal/jpegscale decodes ~2x faster than image/jpeg at full size, and at a reduced
		// scale skips the pixels the resize would average away.
		scale = jpegScale(cfg.Width, cfg.Height, orient, opts)
		if img, err = decodeJPEGScaled(data, scale); errors.Is(err, jpegscale.ErrTooManyScans) {
			// image/jpeg has no scan limit: handing it this file would spend the time anyway.
			return nil, &Error{Reason: ReasonDecode, Err: fmt.Errorf("%s: %w", format, err)}
		} else if err != nil {
			// Whatever else it refuses or finds broken, image/jpeg decides.
			img, scale = nil, 1
		} else {
			// Drop the last column and row when they average fewer than scale pixels (the
			// rest is the encoder's padding), as boxReduce drops its remainder: the resize
			// then maps the same source extent as it does from a full decode.
			img = img.(interface {
				SubImage(image.Rectangle) image.Image
			}).SubImage(image.Rect(0, 0, cfg.Width/scale, cfg.Height/scale))
		}
	}

	if img == nil {
		if img, err = decode(format, data); err != nil {
			return nil, &Error{Reason: ReasonDecode, Err: fmt.Errorf("%s: %w", format, err)}
		}
	}
	b := img.Bounds()
	if b.Dx() != cfg.Width/scale || b.Dy() != cfg.Height/scale {
		// A decoder that disagrees with its own header (e.g. a GIF frame smaller
		// than the logical screen) is fine as long as it stays within the limit.
		if b.Dx() <= 0 || b.Dy() <= 0 || (opts.MaxPixels > 0 && int64(b.Dx())*int64(b.Dy()) > opts.MaxPixels) {
			return nil, fail(ReasonDecode, "%s: decoded bounds %v disagree with header %dx%d", format, b, cfg.Width, cfg.Height)
		}
	}

	src := planesFromImage(img)
	defer src.release()
	res, err := render(src, cfg.Width, cfg.Height, orient, opts)
	if err != nil {
		return nil, err
	}
	res.SHA256 = sha256.Sum256(data)
	res.Format = format
	return res, nil
}

// targetSize returns the resized (content) dimensions for an image of
// displayed size w×h, and the canvas size (equal except for border and
// center_crop).
func targetSize(w, h int, o Options) (cw, ch, canvasW, canvasH int) {
	s := o.Size
	scaleTo := func(num, den int) float64 { return float64(num) / float64(den) }
	var f float64
	switch o.Mode {
	case ModeNo:
		return w, h, w, h
	case ModeKeepRatio, ModeCenterCrop:
		f = scaleTo(s, min(w, h))
	case ModeKeepRatioLargest, ModeBorder:
		f = scaleTo(s, max(w, h))
	}
	if o.ResizeOnlyIfBigger && f >= 1 {
		f = 1
	}
	cw = max(1, int(math.Round(float64(w)*f)))
	ch = max(1, int(math.Round(float64(h)*f)))
	// Keep the side that defines the scale exact despite rounding.
	switch o.Mode {
	case ModeKeepRatio, ModeCenterCrop:
		if f != 1 {
			if w <= h {
				cw = s
			} else {
				ch = s
			}
		}
	case ModeKeepRatioLargest, ModeBorder:
		if f != 1 {
			if w >= h {
				cw = s
			} else {
				ch = s
			}
		}
	}
	canvasW, canvasH = cw, ch
	switch o.Mode {
	case ModeBorder:
		canvasW, canvasH = max(s, cw), max(s, ch)
	case ModeCenterCrop:
		canvasW, canvasH = min(s, cw), min(s, ch)
	}
	return cw, ch, canvasW, canvasH
}
