package querymatch

import (
	"bufio"
	"bytes"
	"compress/gzip"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"unicode/utf8"
)

// A query list is UTF-8 text, one entry a line, optionally followed by a
// tab and the entry's source ("entry\tsource", as querylist writes it);
// empty lines are skipped. A name ending in .gz is gzip-compressed.

//go:embed default.txt.gz
var defaultList []byte

var (
	defaultExact = sync.OnceValues(func() (*Matcher, error) { return loadDefault(Options{}) })
	defaultFold  = sync.OnceValues(func() (*Matcher, error) { return loadDefault(Options{FoldCase: true}) })
)

// Default returns a matcher for the embedded default list (default.txt.gz,
// built by scripts/build-querylist.sh with package querylist from WordNet
// 3.0 and three English corpora). It is built once per option set and
// shared (a Matcher is immutable).
func Default(opts Options) (*Matcher, error) {
	if opts.FoldCase {
		return defaultFold()
	}
	return defaultExact()
}

func loadDefault(opts Options) (*Matcher, error) {
	zr, err := gzip.NewReader(bytes.NewReader(defaultList))
	if err != nil {
		return nil, fmt.Errorf("default query list: %w", err)
	}
	defer zr.Close()
	m, err := Load(zr, opts)
	if err != nil {
		return nil, fmt.Errorf("default query list: %w", err)
	}
	return m, nil
}

// Load reads a query list from r and builds its matcher. Invalid UTF-8 or
// an entry line that is empty before its tab is an error.
func Load(r io.Reader, opts Options) (*Matcher, error) {
	entries, sources, err := readList(r)
	if err != nil {
		return nil, err
	}
	return New(entries, sources, opts)
}

// LoadFile is Load on a file; a name ending in .gz is gunzipped.
func LoadFile(path string, opts Options) (*Matcher, error) {
	entries, sources, err := ReadListFile(path)
	if err != nil {
		return nil, err
	}
	m, err := New(entries, sources, opts)
	if err != nil {
		return nil, fmt.Errorf("query list %s: %w", path, err)
	}
	return m, nil
}

// ReadListFile reads a query list file (gunzipped when its name ends in
// .gz) into its entries and their sources; sources is nil when no line has
// a source.
func ReadListFile(path string) (entries, sources []string, err error) {
	r, closeList, err := openList(path)
	if err != nil {
		return nil, nil, err
	}
	defer closeList()
	entries, sources, err = readList(r)
	if err != nil {
		return nil, nil, fmt.Errorf("query list %s: %w", path, err)
	}
	return entries, sources, nil
}

// openList opens a list file, gunzipping it when its name ends in .gz.
func openList(path string) (io.Reader, func(), error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("query list: %w", err)
	}
	if !strings.HasSuffix(path, ".gz") {
		return f, func() { f.Close() }, nil
	}
	zr, err := gzip.NewReader(bufio.NewReaderSize(f, 1<<16))
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("query list %s: %w", path, err)
	}
	return zr, func() { zr.Close(); f.Close() }, nil
}

// readList parses "entry[\tsource]" lines.
func readList(r io.Reader) (entries, sources []string, err error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, nil, fmt.Errorf("read query list: %w", err)
	}
	// One string for all entries: substrings share it (fewer allocations,
	// faster loading).
	all := string(data)
	lines := strings.Count(all, "\n") + 1
	entries = make([]string, 0, lines)
	sources = make([]string, 0, lines)
	anySource := false
	line := 0
	for len(all) > 0 {
		line++
		var l string
		if i := strings.IndexByte(all, '\n'); i >= 0 {
			l, all = all[:i], all[i+1:]
		} else {
			l, all = all, ""
		}
		l = strings.TrimSuffix(l, "\r")
		if l == "" {
			continue
		}
		if !utf8.ValidString(l) {
			return nil, nil, fmt.Errorf("query list line %d: invalid UTF-8", line)
		}
		entry, source, hasSource := strings.Cut(l, "\t")
		if entry == "" {
			return nil, nil, fmt.Errorf("query list line %d: empty entry", line)
		}
		if hasSource {
			anySource = true
		}
		entries = append(entries, entry)
		sources = append(sources, source)
	}
	if len(entries) == 0 {
		return nil, nil, errors.New("query list has no entries")
	}
	if !anySource {
		sources = nil
	}
	return entries, sources, nil
}
