package input

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzReadText feeds arbitrary bytes to the txt, csv, tsv and jsonl readers: no panic, the
// stream ends, every row has one value a column and valid UTF-8, lines only go forward, and
// every malformed row names its line and a reason.
func FuzzReadText(f *testing.F) {
	for _, s := range []string{
		"url,caption\nu1,\"a, b\"\nu2,\"open\nu3,x\n",
		"url\tcaption\nu1\t\"Jali\" tere\nu2\ta\\tb\r\n",
		`{"url":"a","caption":"b"}` + "\n{bad\n",
		"http://a/\n#c\n\xff\n\x00\n",
		"url,caption\r\n\"a\"\"\",\"\n\n\"\r\n",
	} {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, format := range []string{"txt", "csv", "tsv", "jsonl"} {
			path := filepath.Join(dir, "in."+format)
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			opts := Options{Columns: []string{"url", "caption"}}
			if format == "txt" {
				opts = Options{Columns: []string{"url"}}
			}
			var lastLine, index int64
			for row, err := range Read(context.Background(), path, opts) {
				if b, ok := AsBadRow(err); ok {
					if b.Reason == "" || b.Record <= 0 || (format != "json" && b.Line <= lastLine) {
						t.Fatalf("%s: bad row %+v after line %d", format, b, lastLine)
					}
					lastLine = b.Line
					continue
				}
				if err != nil {
					if strings.Contains(err.Error(), "no column") || strings.Contains(err.Error(), "header") {
						break // a header without the column or malformed: fatal, with a clear error
					}
					t.Fatalf("%s: unexpected error %v", format, err)
				}
				if len(row.Values) != len(opts.Columns) || row.Index != index || row.Line <= lastLine {
					t.Fatalf("%s: row %+v (index want %d, line after %d)", format, row, index, lastLine)
				}
				for _, v := range row.Values {
					if !utf8.ValidString(v) {
						t.Fatalf("%s: invalid UTF-8 in %q", format, v)
					}
				}
				index++
				lastLine = row.Line
			}
		}
	})
}

// FuzzTSVRoundTrip: fields written with the escapes come back as they were.
func FuzzTSVRoundTrip(f *testing.F) {
	f.Add("a\tb", "c\\nd\n")
	f.Add(`"quoted"`, "\r\\")
	dir := f.TempDir()
	esc := strings.NewReplacer("\\", "\\\\", "\t", "\\t", "\n", "\\n", "\r", "\\r")
	f.Fuzz(func(t *testing.T, a, b string) {
		if !utf8.ValidString(a) || !utf8.ValidString(b) || strings.ContainsRune(a+b, 0) || strings.TrimSpace(esc.Replace(a)+esc.Replace(b)) == "" {
			return
		}
		path := filepath.Join(dir, "rt.tsv")
		if err := os.WriteFile(path, []byte("x\ty\n"+esc.Replace(a)+"\t"+esc.Replace(b)+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		var got [][]string
		for row, err := range Read(context.Background(), path, Options{Columns: []string{"x", "y"}}) {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, row.Values)
		}
		if len(got) != 1 || got[0][0] != a || got[0][1] != b {
			t.Fatalf("got %q, want [[%q %q]]", got, a, b)
		}
	})
}
