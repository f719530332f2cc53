package querylist

import (
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"
)

// BuildConfig names the inputs and output of BuildFile.
type BuildConfig struct {
	Out           string       `yaml:"out"`            // output list ("entry\tsource" lines; .gz compresses)
	WordNetDir    string       `yaml:"wordnet"`        // directory with data.{adj,adv,noun,verb}; "" = none
	Corpora       []string     `yaml:"corpus"`         // plain-text files (.gz ok)
	WikipediaDump string       `yaml:"wikipedia_dump"` // pages-articles XML (.bz2 or plain); "" = none
	Titles        []string     `yaml:"titles"`         // "title<TAB>count" files (.gz ok)
	Options       BuildOptions `yaml:",inline"`
}

// BuildFile builds a query list from files and writes it atomically to
// cfg.Out. Nothing is written when any input fails.
func BuildFile(ctx context.Context, cfg BuildConfig) ([]Entry, BuildStats, error) {
	if cfg.Out == "" {
		return nil, BuildStats{}, errors.New("querylist build: no output file")
	}
	if cfg.WordNetDir == "" && len(cfg.Corpora) == 0 && cfg.WikipediaDump == "" && len(cfg.Titles) == 0 {
		return nil, BuildStats{}, errors.New("querylist build: no sources (give WordNet, corpora, a Wikipedia dump or titles)")
	}
	b := NewBuilder(cfg.Options)
	if cfg.WordNetDir != "" {
		if err := b.AddWordNet(cfg.WordNetDir); err != nil {
			return nil, BuildStats{}, err
		}
		slog.Info("querylist: wordnet read", "dir", cfg.WordNetDir, "lemmas", len(b.wordnet), "mode", b.opts.WordNetMode)
	}
	for _, path := range cfg.Corpora {
		err := withFile(path, func(r io.Reader) error { return b.AddCorpus(ctx, r) })
		if err != nil {
			return nil, BuildStats{}, fmt.Errorf("corpus %s: %w", path, err)
		}
		slog.Info("querylist: corpus counted", "file", path, "tokens_total", b.tokens, "distinct_words", b.unigrams.len())
	}
	if cfg.WikipediaDump != "" {
		start := time.Now()
		f, err := os.Open(cfg.WikipediaDump)
		if err != nil {
			return nil, BuildStats{}, fmt.Errorf("wikipedia dump: %w", err)
		}
		progress := func(st DumpStats) {
			slog.Info("querylist: wikipedia dump", "articles", st.Articles, "text_mb", st.TextBytes>>20,
				"tokens", b.tokens, "unigram_keys", b.unigrams.len(), "bigram_keys", b.bigrams.len(),
				"title_keys", b.titles.len(), "elapsed", time.Since(start).Round(time.Second))
		}
		st, err := b.AddWikipediaDump(ctx, f, progress)
		f.Close()
		if err != nil {
			return nil, BuildStats{}, fmt.Errorf("wikipedia dump %s: %w", cfg.WikipediaDump, err)
		}
		progress(st)
	}
	for _, path := range cfg.Titles {
		if err := withFile(path, b.AddTitles); err != nil {
			return nil, BuildStats{}, fmt.Errorf("titles %s: %w", path, err)
		}
	}
	entries, st := b.Build()
	if len(entries) == 0 {
		return nil, st, errors.New("querylist build: no entry passed the thresholds")
	}
	if err := WriteEntriesFile(cfg.Out, entries); err != nil {
		return nil, st, err
	}
	return entries, st, nil
}

// withFile opens path (gunzipping .gz) for f.
func withFile(path string, f func(io.Reader) error) error {
	fh, err := os.Open(path)
	if err != nil {
		return err
	}
	defer fh.Close()
	var r io.Reader = bufio.NewReaderSize(fh, 1<<16)
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(r)
		if err != nil {
			return err
		}
		defer zr.Close()
		r = zr
	}
	return f(r)
}
