package querylist

import (
	"bufio"
	"bytes"
	"compress/gzip"
	_ "embed"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/witdata/wit/internal/atomicfile"
)

// Sources of entries, in MetaCLIP's order.
const (
	SourceWordNet = "wordnet"
	SourceUnigram = "unigram"
	SourceBigram  = "bigram"
	SourceTitle   = "title"
)

// Entry is one query of the list and where it came from.
type Entry struct {
	Text   string
	Source string
}

//go:embed default.txt.gz
var defaultList []byte

// DefaultListGz returns the embedded default list (gzip, "entry\tsource"
// lines), built by scripts/build-querylist.sh from WordNet 3.0 and three
// English corpora.
func DefaultListGz() []byte { return defaultList }

var (
	defaultExact = sync.OnceValues(func() (*Matcher, error) { return loadDefault(MatchOptions{}) })
	defaultFold  = sync.OnceValues(func() (*Matcher, error) { return loadDefault(MatchOptions{FoldCase: true}) })
)

// DefaultMatcher returns a matcher for the embedded default list. It is
// built once per option set and shared (a Matcher is immutable).
func DefaultMatcher(opts MatchOptions) (*Matcher, error) {
	if opts.FoldCase {
		return defaultFold()
	}
	return defaultExact()
}

func loadDefault(opts MatchOptions) (*Matcher, error) {
	zr, err := gzip.NewReader(bytes.NewReader(defaultList))
	if err != nil {
		return nil, fmt.Errorf("default query list: %w", err)
	}
	defer zr.Close()
	m, err := LoadMatcher(zr, opts)
	if err != nil {
		return nil, fmt.Errorf("default query list: %w", err)
	}
	return m, nil
}

// ReadEntries reads an "entry[\tsource]" list (gzip when the name ends .gz).
func ReadEntries(path string) ([]Entry, error) {
	r, closeList, err := openList(path)
	if err != nil {
		return nil, err
	}
	defer closeList()
	texts, sources, err := readList(r)
	if err != nil {
		return nil, fmt.Errorf("query list %s: %w", path, err)
	}
	out := make([]Entry, len(texts))
	for i, t := range texts {
		out[i].Text = t
		if sources != nil {
			out[i].Source = sources[i]
		}
	}
	return out, nil
}

// WriteEntries writes "entry\tsource" lines to w.
func WriteEntries(w io.Writer, entries []Entry) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	for _, e := range entries {
		bw.WriteString(e.Text)
		bw.WriteByte('\t')
		bw.WriteString(e.Source)
		if err := bw.WriteByte('\n'); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// WriteEntriesFile writes the list atomically (internal/atomicfile): readers see the old list or
// the whole new one. A name ending in .gz is gzip-compressed.
func WriteEntriesFile(path string, entries []Entry) error {
	f, err := atomicfile.Create(path)
	if err != nil {
		return fmt.Errorf("write query list: %w", err)
	}
	defer f.Abort() // nothing after Commit
	var w io.Writer = f
	var zw *gzip.Writer
	if strings.HasSuffix(path, ".gz") {
		zw, _ = gzip.NewWriterLevel(f, gzip.BestCompression)
		w = zw
	}
	if err := WriteEntries(w, entries); err != nil {
		return fmt.Errorf("write query list %s: %w", path, err)
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			return fmt.Errorf("write query list %s: %w", path, err)
		}
	}
	if err := f.Commit(); err != nil {
		return fmt.Errorf("write query list: %w", err)
	}
	return nil
}

// CountSources returns the number of entries per source.
func CountSources(entries []Entry) map[string]int {
	c := make(map[string]int)
	for _, e := range entries {
		c[e.Source]++
	}
	return c
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
