package main

import (
	"fmt"
	"log/slog"
	"math"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/witdata/wit/internal/cliconfig"
	"github.com/witdata/wit/querylist"
	"github.com/witdata/wit/querymatch"
)

func init() { rootCmd.AddCommand(newQuerylistCmd()) }

func newQuerylistCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "querylist",
		Short: "Build or inspect the query list (MetaCLIP metadata) used by the filter",
	}
	cmd.AddCommand(newQuerylistBuildCmd(), newQuerylistStatsCmd())
	return cmd
}

func newQuerylistBuildCmd() *cobra.Command {
	cfg := querylist.BuildConfig{Options: querylist.DefaultBuildOptions()}
	var minPMIRatio float64
	var b *cliconfig.Binder
	cmd := &cobra.Command{
		Use:   "build --out FILE [sources...]",
		Short: "Build a query list with MetaCLIP's recipe",
		Long: `Build a query list following MetaCLIP ("Demystifying CLIP Data"):
WordNet lemmas, then corpus unigrams with count >= --min-unigram, then bigrams with
PMI >= --min-pmi and count >= --min-bigram-count, then Wikipedia titles with count
>= --min-title-count; deduplicated (an entry keeps its first source) and capped at --max.
The output has one "entry<TAB>source" line per entry (source: wordnet, unigram, bigram,
title) and is written atomically; a name ending in .gz is compressed.

The default thresholds are MetaCLIP's, meant for a full English Wikipedia (billions of
words). For small corpora lower them (scripts/build-querylist.sh builds the shipped list
from ~5.6M tokens with --min-unigram 3 --min-bigram-count 3).

Corpus tokenisation: white space and the matcher's punctuation , . ; : ? ! and the
backtick separate words; leading/trailing quotes, brackets and dashes are trimmed; words
without a letter are dropped; case is kept; bigrams never span punctuation or lines.

Wikipedia: --wikipedia-dump streams enwiki-YYYYMMDD-pages-articles.xml.bz2 (one page
in memory at a time), strips wikitext and counts words, bigrams and article links. A
dump has no pageviews: a title's count is the number of links to it. Expect many hours
on a full dump (single-threaded bzip2 + XML) and up to ~1.5 GB for the count tables
(--max-count-keys per table; rare keys are pruned beyond it and counts may then be
under-counted by the logged bound).`,
		Example: `  wit querylist build --out queries.txt.gz --wordnet /usr/share/wordnet \
      --corpus brown.txt --corpus sotu.txt --min-unigram 3 --min-bigram-count 3
  wit querylist build --out queries.txt --wordnet /usr/share/wordnet \
      --wikipedia-dump enwiki-latest-pages-articles.xml.bz2 --titles pageviews.tsv`,
	}
	run := func(cmd *cobra.Command, _ *querylist.BuildConfig) error {
		if cfg.Out == "" {
			return fmt.Errorf("--out is required (flag or config)")
		}
		if b.Changed("min-pmi-ratio") {
			if minPMIRatio <= 0 {
				return fmt.Errorf("--min-pmi-ratio must be > 0")
			}
			cfg.Options.MinBigramPMI = math.Log(minPMIRatio)
		}
		start := time.Now()
		entries, st, err := querylist.BuildFile(cmd.Context(), cfg)
		if err != nil {
			return err
		}
		args2 := []any{"out", cfg.Out, "entries", len(entries), "tokens", st.Tokens,
			"elapsed", time.Since(start).Round(time.Millisecond)}
		for _, src := range []string{querylist.SourceWordNet, querylist.SourceUnigram, querylist.SourceBigram, querylist.SourceTitle} {
			args2 = append(args2, src, st.Added[src])
		}
		slog.Info("querylist: built", args2...)
		for _, src := range []string{querylist.SourceWordNet, querylist.SourceUnigram, querylist.SourceBigram, querylist.SourceTitle} {
			if st.Candidates[src] > 0 {
				slog.Info("querylist: source", "source", src, "candidates", st.Candidates[src],
					"added", st.Added[src], "duplicates", st.Duplicates[src], "capped", st.Capped[src])
			}
		}
		if st.MaxUndercount > 0 {
			slog.Warn("querylist: count tables were pruned; counts may be low by up to", "count", st.MaxUndercount)
		}
		return nil
	}
	q := &cfg.Options
	b = bindConfig(cmd, &cfg, &cfg, "YAML file of build options, keys as the flags with _ for - (out, wordnet, corpus: [...], min_unigram, ...); flags set on the command line override it", run)
	b.String(&cfg.Out, "out", "output list file, \"entry<TAB>source\" lines (.gz to compress) (required)")
	b.String(&cfg.WordNetDir, "wordnet", "directory with WordNet 3.0 data.{adj,adv,noun,verb} (e.g. /usr/share/wordnet from Debian wordnet-base)")
	b.String(&q.WordNetMode, "wordnet-mode", "\"lemmas\": every lemma of every synset; \"synsets\": one lower-cased head lemma per synset (MetaCLIP's 86k)")
	b.Repeated(&cfg.Corpora, "corpus", "plain UTF-8 text file for unigram/bigram counts (.gz ok; repeatable)")
	b.String(&cfg.WikipediaDump, "wikipedia-dump", "MediaWiki pages-articles XML dump (.bz2 or plain), streamed: text feeds the counts, links the title counts")
	b.Repeated(&cfg.Titles, "titles", "\"title<TAB>count\" file, e.g. aggregated pageviews (.gz ok; repeatable)")
	b.Int(&q.MinUnigramCount, "min-unigram", "minimum count of a corpus word to become an entry (MetaCLIP: 100 on Wikipedia)")
	b.Float64(&q.MinBigramPMI, "min-pmi", "minimum PMI of a bigram, natural log: ln(count(ab)*N/(count(a)*count(b))), default = ln 30")
	b.Float64(&minPMIRatio, "min-pmi-ratio", "alternative to --min-pmi: minimum count(ab)*N/(count(a)*count(b)) (MetaCLIP's \"PMI 30\")")
	b.Int(&q.MinBigramCount, "min-bigram-count", "minimum count of a bigram to be considered")
	b.Int(&q.MinTitleCount, "min-title-count", "minimum count of a title (pageviews from --titles, inbound links from a dump; MetaCLIP: 70 pageviews)")
	b.Int(&q.MaxEntries, "max", "maximum number of entries (MetaCLIP: 500000)")
	b.Int(&q.MaxCountKeys, "max-count-keys", "keys per count table before rare ones are pruned (~60 bytes each)")
	return cmd
}

func newQuerylistStatsCmd() *cobra.Command {
	var foldCase bool
	cmd := &cobra.Command{
		Use:   "stats [FILE]",
		Short: "Show entries per source and matcher facts of a list (the built-in list when no FILE)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var entries []querylist.Entry
			var err error
			start := time.Now()
			var m *querymatch.Matcher
			opts := querymatch.Options{FoldCase: foldCase}
			name := "(built-in)"
			if len(args) == 1 {
				name = args[0]
				if entries, err = querylist.ReadEntries(name); err != nil {
					return err
				}
				start = time.Now()
				m, err = querymatch.LoadFile(name, opts)
			} else {
				m, err = querymatch.Default(opts)
			}
			if err != nil {
				return err
			}
			load := time.Since(start)
			if entries == nil {
				for id := range m.Len() {
					entries = append(entries, querylist.Entry{Text: m.Entry(int32(id)), Source: m.Source(int32(id))})
				}
			}
			counts := querylist.CountSources(entries)
			srcs := make([]string, 0, len(counts))
			for s := range counts {
				srcs = append(srcs, s)
			}
			slices.Sort(srcs)
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "list\t%s\nentries\t%d\n", name, m.Len())
			for _, s := range srcs {
				label := s
				if label == "" {
					label = "(none)"
				}
				fmt.Fprintf(out, "source %s\t%d\n", label, counts[s])
			}
			fmt.Fprintf(out, "max_words\t%d\nload\t%s\n", m.MaxWords(), load.Round(time.Millisecond))
			return nil
		},
	}
	cmd.Flags().BoolVar(&foldCase, "fold-case", false, "load the matcher with Unicode case folding (affects max_words and load time only)")
	return cmd
}
