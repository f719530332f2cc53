package querylist

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
	"strings"

	"github.com/witdata/wit/querymatch"

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

// ReadEntries reads an "entry[\tsource]" list (gzip when the name ends .gz;
// querymatch.ReadListFile).
func ReadEntries(path string) ([]Entry, error) {
	texts, sources, err := querymatch.ReadListFile(path)
	if err != nil {
		return nil, err
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
