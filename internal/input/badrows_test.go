package input

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// readAll reads path to the end, going on after malformed rows.
func readAll(t *testing.T, path string, opts Options) (rows [][]string, lines []int64, bad []BadRow, err error) {
	t.Helper()
	for row, err := range Read(context.Background(), path, opts) {
		if b, ok := AsBadRow(err); ok {
			bad = append(bad, b)
			continue
		}
		if err != nil {
			return rows, lines, bad, err
		}
		rows = append(rows, row.Values)
		lines = append(lines, row.Line)
	}
	return rows, lines, bad, nil
}

type badWant struct {
	line   int64
	reason string
}

func TestReadMalformedRows(t *testing.T) {
	urlCaption := Options{Columns: []string{"url", "caption"}}
	tests := []struct {
		name, file, data string
		opts             Options
		want             [][]string
		wantLines        []int64
		wantBad          []badWant
	}{
		{"tsv quote at the start of a caption is text", "l.tsv",
			"url\tcaption\nu1\t\"Jali\" tere nimano\nu2\tsecond\nu3\t\"open quote\nu4\tlast\n", urlCaption,
			[][]string{{"u1", `"Jali" tere nimano`}, {"u2", "second"}, {"u3", `"open quote`}, {"u4", "last"}}, []int64{2, 3, 4, 5}, nil},
		{"tsv escapes", "l.tsv", "url\tcaption\nu1\ta\\tb\\nc\\\\d\\x\n", urlCaption,
			[][]string{{"u1", "a\tb\nc\\d\\x"}}, []int64{2}, nil},
		{"tsv CRLF", "l.tsv", "url\tcaption\r\nu1\tone\r\nu2\ttwo\r\n", urlCaption,
			[][]string{{"u1", "one"}, {"u2", "two"}}, []int64{2, 3}, nil},
		{"tsv no trailing newline", "l.tsv", "url\tcaption\nu1\tone\nu2\ttwo", urlCaption,
			[][]string{{"u1", "one"}, {"u2", "two"}}, []int64{2, 3}, nil},
		{"tsv field counts", "l.tsv", "url\tcaption\nu1\nu2\ttwo\tthree\nu3\tok\n", urlCaption,
			[][]string{{"u3", "ok"}}, []int64{4}, []badWant{{2, BadFieldCount}, {3, BadFieldCount}}},
		{"tsv NUL and invalid UTF-8", "l.tsv", "url\tcaption\nu1\ta\x00b\nu2\tbad \xff\nu3\tok\n", urlCaption,
			[][]string{{"u3", "ok"}}, []int64{4}, []badWant{{2, BadNUL}, {3, BadUTF8}}},
		{"tsv invalid UTF-8 kept where asked", "l.tsv", "url\tcaption\nu1\tbad \xff\nu\xff\tx\n",
			Options{Columns: []string{"url", "caption"}, KeepInvalidUTF8: []string{"caption"}},
			[][]string{{"u1", "bad \xff"}}, []int64{2}, []badWant{{3, BadUTF8}}},
		{"tsv blank lines are not rows", "l.tsv", "url\tcaption\n\nu1\tone\n\n", urlCaption,
			[][]string{{"u1", "one"}}, []int64{3}, nil},
		{"csv quoted fields, CRLF, multi-line", "l.csv",
			"url,caption\r\nu1,\"a, \"\"quoted\"\" one\"\r\nu2,\"two\r\nlines\"\r\nu3,\r\n", urlCaption,
			[][]string{{"u1", `a, "quoted" one`}, {"u2", "two\nlines"}, {"u3", ""}}, []int64{2, 3, 5}, nil},
		{"csv unterminated quote skips one row", "l.csv",
			"url,caption\nu1,\"never closed\nu2,two\nu3,three\n", urlCaption,
			[][]string{{"u2", "two"}, {"u3", "three"}}, []int64{3, 4}, []badWant{{2, BadQuoting}}},
		{"csv bare quote and text after a quote", "l.csv",
			"url,caption\nu1,5\" screen\nu2,\"Jali\" tere\nu3,ok\n", urlCaption,
			[][]string{{"u3", "ok"}}, []int64{4}, []badWant{{2, BadQuoting}, {3, BadQuoting}}},
		{"csv field counts, missing trailing newline", "l.csv", "url,caption\nu1\nu2,a,b\nu3,ok", urlCaption,
			[][]string{{"u3", "ok"}}, []int64{4}, []badWant{{2, BadFieldCount}, {3, BadFieldCount}}},
		{"csv NUL and invalid UTF-8", "l.csv", "url,caption\nu1,\x00\nu2,\xc3\nu3,ok\n", urlCaption,
			[][]string{{"u3", "ok"}}, []int64{4}, []badWant{{2, BadNUL}, {3, BadUTF8}}},
		{"txt NUL and invalid UTF-8", "l.txt", "http://a.test/\xff\xfe\nhttp://b.test/\x00\nhttp://c.test/\n",
			Options{Columns: []string{"url"}}, [][]string{{"http://c.test/"}}, []int64{3}, []badWant{{1, BadUTF8}, {2, BadNUL}}},
		{"jsonl broken line, missing field", "l.jsonl",
			`{"url": "a"}` + "\n{broken\n" + `{"caption": "no url"}` + "\n[1]\n" + `{"url": "b"}`, urlCaption,
			[][]string{{"a", ""}, {"b", ""}}, []int64{1, 5}, []badWant{{2, BadJSON}, {3, BadMissing}, {4, BadJSON}}},
		{"jsonl invalid UTF-8", "l.jsonl", "{\"url\": \"a\xff\"}\n{\"url\": \"b\"}\n", urlCaption,
			[][]string{{"b", ""}}, []int64{2}, []badWant{{1, BadUTF8}}},
		{"json array missing field", "l.json", `[{"url": "a"}, {"caption": "x"}, {"url": "b"}]`, urlCaption,
			[][]string{{"a", ""}, {"b", ""}}, []int64{0, 0}, []badWant{{0, BadMissing}}},
		{"line too long", "l.tsv", "url\tcaption\nu1\t" + strings.Repeat("x", MaxRecordBytes+10) + "\nu2\tok\n", urlCaption,
			[][]string{{"u2", "ok"}}, []int64{3}, []badWant{{2, BadTooLong}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := write(t, tt.file, []byte(tt.data))
			rows, lines, bad, err := readAll(t, path, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(rows, tt.want) {
				t.Errorf("rows %q, want %q", rows, tt.want)
			}
			if !reflect.DeepEqual(lines, tt.wantLines) {
				t.Errorf("lines %v, want %v", lines, tt.wantLines)
			}
			var got []badWant
			for _, b := range bad {
				got = append(got, badWant{b.Line, b.Reason})
				if b.File != path || b.Record == 0 {
					t.Errorf("bad row %+v: want file %s and a record number", b, path)
				}
			}
			if !reflect.DeepEqual(got, tt.wantBad) {
				t.Errorf("bad rows %v, want %v", got, tt.wantBad)
			}
		})
	}
}

// TestReadDelimitedLarge is the reported case: a TSV of captions, some starting with a quote,
// must come back row for row.
func TestReadDelimitedLarge(t *testing.T) {
	var b strings.Builder
	b.WriteString("url\tcaption\n")
	const n = 5000
	for i := range n {
		caption := "a caption"
		if i%7 == 0 {
			caption = `"Jali" tere nimano`
		}
		if i%11 == 0 {
			caption = `"unbalanced quote`
		}
		b.WriteString("http://x.test/" + itoaTest(i) + ".jpg\t" + caption + "\n")
	}
	rows, _, bad, err := readAll(t, write(t, "big.tsv", []byte(b.String())), Options{Columns: []string{"url", "caption"}})
	if err != nil || len(bad) != 0 || len(rows) != n {
		t.Fatalf("%d rows, %d bad, err %v; want %d rows", len(rows), len(bad), err, n)
	}
}

func itoaTest(i int) string { return strconv.Itoa(i) }

func TestBadRowLog(t *testing.T) {
	dir := t.TempDir()
	path := write(t, "l.csv", []byte("url,caption\nu1,\"open\nu2,\xff\nu3,ok\n"))
	logPath := filepath.Join(dir, BadRowsFile)
	os.WriteFile(logPath, []byte("from an earlier run\n"), 0o644)

	// Skip: the rows are counted and logged, the stream goes on.
	log, err := NewBadRowLog(logPath, "")
	if err != nil {
		t.Fatal(err)
	}
	var good int
	for _, err := range Read(context.Background(), path, Options{Columns: []string{"url", "caption"}}) {
		if err := log.Handle(err); err != nil {
			t.Fatal(err)
		}
		if err == nil {
			good++
		}
	}
	if err := log.Close(); err != nil {
		t.Fatal(err)
	}
	// Handle(nil) for good rows and bad rows both return nil: count the rows by the log instead.
	if got := log.Counts(); !reflect.DeepEqual(got, map[string]int64{BadQuoting: 1, BadUTF8: 1}) || log.Total() != 2 {
		t.Fatalf("counts %v", got)
	}
	f, err := os.Open(logPath)
	if err != nil {
		t.Fatal(err)
	}
	var logged []BadRow
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var b BadRow
		if err := json.Unmarshal(sc.Bytes(), &b); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		logged = append(logged, b)
	}
	f.Close()
	if len(logged) != 2 || logged[0].Line != 2 || logged[0].Reason != BadQuoting || logged[1].Line != 3 || logged[1].File != path {
		t.Fatalf("logged %+v", logged)
	}

	// Error: the first bad row ends the read with its line.
	elog, _ := NewBadRowLog(filepath.Join(dir, "other.jsonl"), BadRowsError)
	var ferr error
	for _, err := range Read(context.Background(), path, Options{Columns: []string{"url", "caption"}}) {
		if ferr = elog.Handle(err); ferr != nil {
			break
		}
	}
	if ferr == nil || !strings.Contains(ferr.Error(), "line 2") || !strings.Contains(ferr.Error(), BadQuoting) {
		t.Fatalf("error policy: %v", ferr)
	}
	var be *BadRowError
	if !errors.As(ferr, &be) {
		t.Fatalf("error policy: %v is not a *BadRowError", ferr)
	}
	elog.Close()
	if _, err := os.Stat(filepath.Join(dir, "other.jsonl")); !os.IsNotExist(err) {
		t.Fatalf("a log with no skipped rows was written: %v", err)
	}

	// A run without bad rows removes the previous run's log.
	clean, _ := NewBadRowLog(logPath, BadRowsSkip)
	if err := clean.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(logPath); !os.IsNotExist(err) {
		t.Fatalf("stale log kept: %v", err)
	}
	if _, err := NewBadRowLog(logPath, "ignore"); err == nil {
		t.Fatal("unknown policy accepted")
	}
}
