package main

import (
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/witdata/wit/filter"
	"github.com/witdata/wit/filter/stageset"
)

func init() { rootCmd.AddCommand(newFilterCmd()) }

// filterRunner runs a filter once its flags are read: on this machine (wit filter) or as a job
// on the queue (wit submit filter). opts.Stages is left for the runner to build from set.
type filterRunner func(cmd *cobra.Command, opts filter.Options, set stageset.Settings) error

func newFilterCmd() *cobra.Command { return newFilterCmdWith(runFilterHere) }

// newFilterCmdWith builds the filter command's flags around run.
func newFilterCmdWith(run filterRunner) *cobra.Command {
	var (
		opts      filter.Options
		extraCols string
	)
	set := stageset.Default()
	cmd := &cobra.Command{
		Use:   "filter --in PAIRS --out DIR [--queries FILE|default]",
		Short: "Keep English pairs that match the query list, deduplicated and balanced per query",
		Long: `Filter (image URL, caption) pairs the way CLIP/MetaCLIP built their data.

Stages, cheapest first; each dropped pair is counted under the first stage that failed:
  1. normalisation: HTML entities decoded, white space collapsed, invalid UTF-8 bytes removed
     (counted as repaired_utf8; --drop-invalid-utf8 drops such captions instead)
  2. text rules: junk (bare URLs; file names like IMG_1234.JPG, DSC0001, image.png; boilerplate
     such as "image", "logo", "untitled", "spacer", "click here"; mostly digits/punctuation),
     then --min-chars, --min-words, --max-chars
  3. query match (--queries): MetaCLIP's whole-word substring match against the list
  4. language (--languages): script pre-check (text mostly in a script no wanted language uses
     is dropped without asking lingua), for English alone a function-word pre-check that settles
     clear cases ("the", "and", "with" vs "der", "les", "della"; --no-lexical turns it off), an
     LRU cache of repeated captions, then lingua-go in high accuracy mode over --detect-languages
  5. dedup of (image URL, normalised caption), on disk (pebble), bounded memory
  6. balancing (--balance t): MetaCLIP's p = t / max(count, t) per entry; a pair is kept when
     any of its matched entries wins its own coin. The coin of (pair, entry) is a hash of
     (--seed, pair, entry): results do not depend on order or parallelism.
     --mode exact counts every entry over the whole pool first (two passes; the second reads
     the staged survivors only); --mode online uses running counts (one pass, for streaming;
     keeps about t*(1+ln(count/t)) pairs per head entry instead of t).

Input: a directory of Arrow pair files (wit crawl's output), an .arrow file, or a
txt/csv/tsv/jsonl/json/parquet file, optionally .gz (txt: one caption a line).

Output (--out, must not exist or be empty): Arrow files with the input's columns (the caption
replaced by its normalised form) plus matched_queries (list<utf8>) and language (utf8: ISO 639-1,
"und" when undecided, "und-Cyrl" etc. when the script pre-check decided). Only kept rows are
written, unless --keep-all adds every row with decision ("keep"/"drop") and drop_reason columns.
The directory appears only when the run succeeded (written to a temp directory, then renamed);
filter-stats.json inside it (and --stats-json) holds the counts printed at the end.`,
		Example: `  wit filter --in work/pairs --queries default --out work/filtered
  wit filter --in urls.csv.gz --caption-col alt --url-col src --queries queries.txt --out work/f
  wit filter --in captions.txt --no-language --balance 0 --queries default --out work/q --keep-all`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if extraCols != "" {
				opts.ExtraCols = strings.Split(extraCols, ",")
			}
			if set.Queries == "" {
				if cmd.Flags().Changed("balance") && opts.Threshold > 0 {
					return fmt.Errorf("--balance needs --queries")
				}
				opts.Threshold = 0
			}
			return run(cmd, opts, set)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.In, "in", "", "input: Arrow pairs directory or file, or txt/csv/tsv/jsonl/json/parquet (optionally .gz)")
	f.StringVar(&opts.Out, "out", "", "output directory of Arrow files (must not exist or be empty)")
	f.StringVar(&opts.CaptionCol, "caption-col", "caption", "caption column")
	f.StringVar(&opts.URLCol, "url-col", "", `image URL column (default "image_url" for Arrow input, "url" otherwise)`)
	f.StringVar(&extraCols, "columns", "", "non-Arrow input: comma-separated further columns to carry to the output")
	f.StringVar(&set.Queries, "queries", "", `query list file (one entry a line, .gz ok) or "default" for the embedded list; empty: no query filter`)
	f.BoolVar(&set.FoldCase, "fold-case", false, "match queries case-insensitively (MetaCLIP is case-sensitive)")
	f.BoolVar(&set.NoLanguage, "no-language", false, "switch the language filter off")
	f.StringVar(&set.Languages, "languages", set.Languages, "languages to keep, ISO 639-1 codes or names, comma-separated")
	f.StringVar(&set.DetectLanguages, "detect-languages", "", `candidate languages lingua chooses among ("all" for 75; default: 20 common web languages)`)
	f.BoolVar(&set.LowAccuracy, "low-accuracy", false, "lingua's low accuracy mode: faster, less recall on short captions")
	f.BoolVar(&set.NoLexical, "no-lexical", false, "English only: skip the function-word pre-check and ask lingua about every Latin-script caption")
	f.IntVar(&set.CacheSize, "lang-cache", set.CacheSize, "language results cached for repeated captions (LRU entries; -1 = off)")
	f.IntVar(&set.Text.MinChars, "min-chars", set.Text.MinChars, "minimum caption length in characters (0 = off)")
	f.IntVar(&set.Text.MinWords, "min-words", set.Text.MinWords, "minimum words per caption (0 = off)")
	f.IntVar(&set.Text.MaxChars, "max-chars", set.Text.MaxChars, "maximum caption length in characters (0 = no limit)")
	f.BoolVar(&set.Text.NoJunk, "no-junk", false, "switch the junk rules (URLs, file names, boilerplate, symbols) off")
	f.BoolVar(&set.DropInvalidUTF8, "drop-invalid-utf8", false, "drop captions with invalid UTF-8 instead of removing the bad bytes")
	f.BoolVar(&opts.NoDedup, "no-dedup", false, "keep duplicate (image URL, caption) pairs")
	f.IntVar(&opts.Threshold, "balance", filter.DefaultThreshold, "balancing threshold t (pairs per query entry); 0 = no balancing")
	f.Uint64Var(&opts.Seed, "seed", 0, "seed of the balancing coin flips")
	f.StringVar(&opts.Mode, "mode", filter.ModeExact, "balancing mode: exact (two passes) or online (running counts)")
	f.StringVar(&opts.StateDir, "state-dir", "", "online mode: directory keeping the running counts across runs (default: temporary)")
	f.BoolVar(&opts.KeepAll, "keep-all", false, "write dropped rows too, with decision and drop_reason columns")
	f.StringVar(&opts.StatsJSON, "stats-json", "", "also write the stats JSON to this path")
	f.IntVar(&opts.RowsPerFile, "rows-per-file", 10000, "rows per output Arrow file")
	f.IntVar(&opts.Workers, "workers", 0, "caption evaluation goroutines (default: number of CPUs)")
	_ = cmd.MarkFlagRequired("in")
	_ = cmd.MarkFlagRequired("out")
	return cmd
}

// runFilterHere builds the stages and runs the filter in this process.
func runFilterHere(cmd *cobra.Command, opts filter.Options, set stageset.Settings) error {
	st, err := set.Build(slog.Default())
	if err != nil {
		return err
	}
	opts.Stages = st
	stats, err := filter.Run(cmd.Context(), opts)
	if err != nil {
		return err
	}
	stats.WriteSummary(os.Stdout)
	return nil
}
