package querylist

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/witdata/wit/querymatch"
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

// WriteEntriesFile writes the list atomically: to a temporary file in the
// same directory, fsynced, then renamed over path. A name ending in .gz is
// gzip-compressed.
func WriteEntriesFile(path string, entries []Entry) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write query list: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	var w io.Writer = tmp
	var zw *gzip.Writer
	if strings.HasSuffix(path, ".gz") {
		zw, _ = gzip.NewWriterLevel(tmp, gzip.BestCompression)
		w = zw
	}
	if err = WriteEntries(w, entries); err != nil {
		return fmt.Errorf("write query list %s: %w", path, err)
	}
	if zw != nil {
		if err = zw.Close(); err != nil {
			return fmt.Errorf("write query list %s: %w", path, err)
		}
	}
	if err = tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("write query list %s: %w", path, err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("write query list %s: %w", path, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("write query list %s: %w", path, err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write query list %s: %w", path, err)
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
