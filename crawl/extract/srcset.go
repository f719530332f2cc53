package extract

import (
	"strconv"
	"strings"
)

// imgChoice is one image URL with the size hint a srcset gave it: a width
// descriptor (w > 0) or a pixel density (x, 1 when none was given).
type imgChoice struct {
	url string
	w   int
	x   float64
}

// better reports whether c is a larger image than o. Width descriptors beat
// densities (a w candidate is meant for large viewports); ties keep o, the one
// seen first.
func (c imgChoice) better(o imgChoice) bool {
	if c.url == "" {
		return false
	}
	if o.url == "" {
		return true
	}
	if c.w > 0 || o.w > 0 {
		return c.w > o.w
	}
	return c.x > o.x
}

// largestInSrcset returns the largest usable candidate of a srcset attribute:
// by width descriptor if any candidate has one, else by density. Placeholder
// candidates (data: URIs, spacer GIFs) are skipped. It follows the WHATWG
// parsing algorithm, so URLs containing commas survive.
func largestInSrcset(s string) imgChoice {
	var best imgChoice
	i := 0
	for i < len(s) {
		// Skip white space and commas before a URL.
		for i < len(s) && (isASCIISpace(s[i]) || s[i] == ',') {
			i++
		}
		if i >= len(s) {
			break
		}
		start := i
		for i < len(s) && !isASCIISpace(s[i]) {
			i++
		}
		u := s[start:i]
		desc := ""
		if strings.HasSuffix(u, ",") {
			u = strings.TrimRight(u, ",")
		} else {
			dstart := i
			inParen := false
			for i < len(s) {
				c := s[i]
				if c == '(' {
					inParen = true
				} else if c == ')' {
					inParen = false
				} else if c == ',' && !inParen {
					break
				}
				i++
			}
			desc = s[dstart:i]
		}
		if u == "" || isPlaceholder(u) {
			continue
		}
		c, ok := parseDescriptors(u, desc)
		if ok && c.better(best) {
			best = c
		}
	}
	return best
}

// parseDescriptors reads "800w", "2x" or "1.5x" (a height descriptor is
// ignored). An invalid descriptor drops the candidate, as browsers do.
func parseDescriptors(u, desc string) (imgChoice, bool) {
	c := imgChoice{url: u, x: 1}
	for _, d := range strings.Fields(desc) {
		if len(d) < 2 {
			return c, false
		}
		num, unit := d[:len(d)-1], d[len(d)-1]
		switch unit {
		case 'w', 'W':
			n, err := strconv.Atoi(num)
			if err != nil || n <= 0 {
				return c, false
			}
			c.w = n
		case 'x', 'X':
			f, err := strconv.ParseFloat(num, 64)
			if err != nil || !(f > 0) || f > 1e6 {
				return c, false
			}
			c.x = f
		case 'h', 'H':
		default:
			return c, false
		}
	}
	return c, true
}

// placeholderNames are file names (without extension) that lazy-loading
// scripts and tracking pixels use for a stand-in image.
var placeholderNames = []string{
	"blank", "spacer", "pixel", "transparent", "placeholder", "lazy", "lazyload",
	"loading", "loader", "spinner", "1x1", "clear", "empty", "px", "dot", "trans",
	"grey", "gray", "blank-image", "placeholder-image", "lazy-placeholder",
}

// isPlaceholder reports an image reference that is not the real image: empty,
// a data:/about:/javascript:/blob: URI, or a spacer file such as blank.gif.
func isPlaceholder(u string) bool {
	u = strings.TrimSpace(u)
	if u == "" || u[0] == '#' || obviouslyNotHTTP(u) {
		return true
	}
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		u = u[:i]
	}
	name := u[strings.LastIndexByte(u, '/')+1:]
	ext := ""
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		name, ext = name[:i], name[i+1:]
	}
	switch strings.ToLower(ext) {
	case "gif", "png", "svg", "webp", "jpg", "jpeg", "":
	default:
		return false
	}
	for _, p := range placeholderNames {
		if strings.EqualFold(name, p) {
			return true
		}
	}
	return false
}
