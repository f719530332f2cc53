package imgproc

import "encoding/binary"

// ExifOrientation returns the EXIF orientation (1..8) of a JPEG: the
// Orientation tag (0x0112) of IFD0 in the first APP1 "Exif" segment. It
// returns 1 (normal) when the data is not a JPEG, has no such tag, or is
// malformed anywhere along the way; it never reads out of bounds.
func ExifOrientation(jpegData []byte) int {
	d := jpegData
	if len(d) < 4 || d[0] != 0xFF || d[1] != 0xD8 {
		return 1
	}
	i := 2
	for i+4 <= len(d) {
		if d[i] != 0xFF {
			return 1 // not at a marker: corrupt
		}
		marker := d[i+1]
		if marker == 0xFF { // fill byte
			i++
			continue
		}
		// Stand-alone markers carry no length.
		if marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7) {
			i += 2
			continue
		}
		if marker == 0xDA || marker == 0xD9 { // start of scan / end of image: metadata is over
			return 1
		}
		n := int(binary.BigEndian.Uint16(d[i+2:]))
		if n < 2 || i+2+n > len(d) {
			return 1
		}
		seg := d[i+4 : i+2+n]
		if marker == 0xE1 && len(seg) >= 6 && string(seg[:6]) == "Exif\x00\x00" {
			return tiffOrientation(seg[6:])
		}
		i += 2 + n
	}
	return 1
}

// tiffOrientation reads the Orientation tag from a TIFF structure (the body
// of an Exif segment, PNG eXIf chunk or WebP EXIF chunk).
func tiffOrientation(t []byte) int {
	if len(t) < 8 {
		return 1
	}
	var bo binary.ByteOrder
	switch string(t[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return 1
	}
	if bo.Uint16(t[2:]) != 42 {
		return 1
	}
	ifd := uint64(bo.Uint32(t[4:]))
	if ifd+2 > uint64(len(t)) {
		return 1
	}
	count := uint64(bo.Uint16(t[ifd:]))
	for e := uint64(0); e < count; e++ {
		off := ifd + 2 + 12*e
		if off+12 > uint64(len(t)) {
			return 1
		}
		entry := t[off : off+12]
		if bo.Uint16(entry[0:]) != 0x0112 {
			continue
		}
		typ, n := bo.Uint16(entry[2:]), bo.Uint32(entry[4:])
		var v uint32
		switch {
		case typ == 3 && n >= 1: // SHORT, stored inline
			v = uint32(bo.Uint16(entry[8:]))
		case typ == 4 && n >= 1: // LONG: out of spec but seen in the wild
			v = bo.Uint32(entry[8:])
		default:
			return 1
		}
		if v >= 1 && v <= 8 {
			return int(v)
		}
		return 1
	}
	return 1
}

// pngOrientation reads an eXIf chunk placed before the image data.
func pngOrientation(d []byte) int {
	i := 8
	for i+12 <= len(d) {
		n := uint64(binary.BigEndian.Uint32(d[i:]))
		typ := string(d[i+4 : i+8])
		end := uint64(i) + 12 + n
		if end > uint64(len(d)) {
			return 1
		}
		switch typ {
		case "eXIf":
			return tiffOrientation(d[i+8 : uint64(i)+8+n])
		case "IDAT", "IEND":
			return 1
		}
		i = int(end)
	}
	return 1
}

// webpOrientation reads the EXIF chunk of an extended (VP8X) WebP.
func webpOrientation(d []byte) int {
	if len(d) < 12 {
		return 1
	}
	i := 12
	for i+8 <= len(d) {
		n := uint64(binary.LittleEndian.Uint32(d[i+4:]))
		body := uint64(i) + 8
		if body+n > uint64(len(d)) {
			return 1
		}
		if string(d[i:i+4]) == "EXIF" {
			t := d[body : body+n]
			// Some writers keep the JPEG-style "Exif\0\0" prefix.
			if len(t) >= 6 && string(t[:6]) == "Exif\x00\x00" {
				t = t[6:]
			}
			return tiffOrientation(t)
		}
		i = int(body + n + n&1) // chunks are padded to even length
	}
	return 1
}

// orientPlane applies EXIF orientation o to a plane, returning a new plane
// (from the pool) of the displayed size, or p itself for o == 1.
func orientPlane(p plane, o int) plane {
	if o <= 1 || o > 8 || p.constant() {
		if p.constant() && o >= 5 {
			p.w, p.h = p.h, p.w
		}
		return p
	}
	w, h := p.w, p.h
	dw, dh := w, h
	if o >= 5 {
		dw, dh = h, w
	}
	out := newPlane(dw, dh)
	for y := 0; y < dh; y++ {
		row := out.row(y)
		for x := range row {
			var sx, sy int
			switch o {
			case 2: // mirror horizontally
				sx, sy = w-1-x, y
			case 3: // rotate 180
				sx, sy = w-1-x, h-1-y
			case 4: // mirror vertically
				sx, sy = x, h-1-y
			case 5: // transpose
				sx, sy = y, x
			case 6: // rotate 90 CW
				sx, sy = y, h-1-x
			case 7: // transverse
				sx, sy = w-1-y, h-1-x
			case 8: // rotate 90 CCW
				sx, sy = w-1-y, x
			}
			row[x] = p.pix[sy*p.stride+sx]
		}
	}
	return out
}
