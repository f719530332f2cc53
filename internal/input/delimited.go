package input

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"
)

// CSV is read as RFC 4180: fields separated by commas; a field that holds a comma, a quote or a
// line break is enclosed in double quotes, with quotes inside doubled. A quote in an unquoted
// field, text after a closing quote, a quote never closed (within maxQuotedLines lines) and a
// record with another number of fields than the header are malformed rows. CRLF and LF line
// ends are both accepted; blank lines are not rows.
//
// TSV is read as text/tab-separated-values (IANA): one record a line, fields separated by tabs,
// no quoting — a double quote is an ordinary character. The escapes \t, \n, \r and \\ stand for
// a tab, a line feed, a carriage return and a backslash (the convention of PostgreSQL's COPY and
// of most TSV writers); any other backslash is kept as it is.

// readDelimited reads a CSV (comma ',') or TSV (comma '\t') input after its header line.
func (r *reader) readDelimited(lr *lineReader, comma byte) {
	var header []string
	for header == nil {
		l, ok := lr.next()
		if !ok {
			if err := lr.readErr(); err != nil {
				r.failf("line %d: %v", lr.last+1, err)
			}
			return // empty input: no rows
		}
		if len(bytes.TrimSpace(l.text)) == 0 && !l.tooLong {
			continue
		}
		var fields []string
		var bad string
		if comma == '\t' {
			fields, bad = splitTSV(l, nil)
		} else {
			fields, _, bad, _ = parseCSVRecord(lr, l, nil)
		}
		if bad == "" && !utf8.ValidString(strings.Join(fields, "")) {
			bad = BadUTF8
		}
		if bad != "" {
			r.failf("line %d: header: %s", l.num, bad)
			return
		}
		header = fields
	}
	idx, ok := r.columnIndex(header)
	if !ok {
		return
	}
	keep := r.keepInvalidAt(header)
	var fields []string
	for {
		l, ok := lr.next()
		if !ok {
			if err := lr.readErr(); err != nil {
				r.failf("line %d: %v", lr.last+1, err)
			}
			return
		}
		if len(l.text) == 0 && !l.tooLong {
			continue // a blank line is not a row
		}
		var bad, detail string
		if comma == '\t' {
			fields, bad = splitTSV(l, fields[:0])
		} else {
			var used []physLine
			fields, used, bad, detail = parseCSVRecord(lr, l, fields[:0])
			if bad != "" && len(used) > 1 {
				// Read again from the line after the one where the bad record began.
				lr.pushBack(used[1:])
			}
		}
		if bad == "" && len(fields) != len(header) {
			bad, detail = BadFieldCount, fieldCountDetail(len(fields), len(header))
		}
		if bad == "" {
			for i, f := range fields {
				if !keep[i] && !utf8.ValidString(f) {
					bad, detail = BadUTF8, "field "+header[i]
					break
				}
			}
		}
		if bad != "" {
			if !r.bad(BadRow{Line: l.num, Reason: bad, Detail: detail, Text: string(l.text)}) {
				return
			}
			continue
		}
		values := make([]string, len(idx))
		for i, j := range idx {
			if j >= 0 {
				values[i] = fields[j]
			}
		}
		if !r.emitLine(values, l.num) {
			return
		}
	}
}

func fieldCountDetail(got, want int) string {
	return fmt.Sprintf("%d fields, the header has %d", got, want)
}

// keepInvalidAt marks the header positions of Options.KeepInvalidUTF8.
func (r *reader) keepInvalidAt(header []string) []bool {
	keep := make([]bool, len(header))
	for i, h := range header {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		for _, c := range r.opts.KeepInvalidUTF8 {
			if h == c {
				keep[i] = true
			}
		}
	}
	return keep
}

// splitTSV splits one TSV line into its unescaped fields.
func splitTSV(l physLine, dst []string) ([]string, string) {
	if l.tooLong {
		return dst, BadTooLong
	}
	if bytes.IndexByte(l.text, 0) >= 0 {
		return dst, BadNUL
	}
	text := l.text
	for {
		i := bytes.IndexByte(text, '\t')
		if i < 0 {
			return append(dst, unescapeTSV(text)), ""
		}
		dst = append(dst, unescapeTSV(text[:i]))
		text = text[i+1:]
	}
}

func unescapeTSV(b []byte) string {
	if bytes.IndexByte(b, '\\') < 0 {
		return string(b)
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c == '\\' && i+1 < len(b) {
			switch b[i+1] {
			case 't':
				c = '\t'
			case 'n':
				c = '\n'
			case 'r':
				c = '\r'
			case '\\':
				c = '\\'
			default:
				out = append(out, c)
				continue
			}
			i++
		}
		out = append(out, c)
	}
	return string(out)
}

// parseCSVRecord parses the record starting at line first, reading further lines while a quoted
// field is open. It returns the fields, the lines it used, and a reason when the record is
// malformed.
func parseCSVRecord(lr *lineReader, first physLine, dst []string) (fields []string, used []physLine, bad, detail string) {
	used = []physLine{first}
	if first.tooLong {
		return dst, used, BadTooLong, ""
	}
	line := first.text
	if bytes.IndexByte(line, 0) >= 0 {
		return dst, used, BadNUL, ""
	}
	var field []byte
	pos := 0
	size := len(line)
	for {
		// At the start of a field.
		if pos < len(line) && line[pos] == '"' {
			pos++
			field = field[:0]
			for {
				i := bytes.IndexByte(line[pos:], '"')
				if i < 0 {
					// The quoted field goes on on the next line.
					field = append(field, line[pos:]...)
					field = append(field, '\n')
					next, ok := lr.next()
					if !ok || next.tooLong || len(used) >= maxQuotedLines || size+len(next.text) > MaxRecordBytes {
						if ok {
							used = append(used, next)
						}
						return dst, used, BadQuoting, "quote never closed"
					}
					used = append(used, next)
					if bytes.IndexByte(next.text, 0) >= 0 {
						return dst, used, BadNUL, ""
					}
					line, pos = next.text, 0
					size += len(line)
					continue
				}
				field = append(field, line[pos:pos+i]...)
				pos += i + 1
				if pos < len(line) && line[pos] == '"' { // "" is a quote
					field = append(field, '"')
					pos++
					continue
				}
				break
			}
			dst = append(dst, string(field))
			switch {
			case pos == len(line):
				return dst, used, "", ""
			case line[pos] == ',':
				pos++
				if pos == len(line) {
					return append(dst, ""), used, "", ""
				}
			default:
				return dst, used, BadQuoting, "text after a closing quote"
			}
			continue
		}
		i := bytes.IndexByte(line[pos:], ',')
		end := len(line)
		if i >= 0 {
			end = pos + i
		}
		if bytes.IndexByte(line[pos:end], '"') >= 0 {
			return dst, used, BadQuoting, "quote in an unquoted field"
		}
		dst = append(dst, string(line[pos:end]))
		if i < 0 {
			return dst, used, "", ""
		}
		pos = end + 1
		if pos == len(line) {
			return append(dst, ""), used, "", ""
		}
	}
}
