package main

import (
	"errors"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/witdata/wit/filter"
	"github.com/witdata/wit/internal/input"
)

func init() { rootCmd.AddCommand(newFilterCmd()) }

// filterOptions is what `wit filter` reads from its flags and --config (configs/filter.yaml):
// the run's options and the stages' options side by side in one YAML mapping.
type filterOptions struct {
	Run    filter.Options      `yaml:",inline"`
	Stages filter.StageOptions `yaml:",inline"`
}

func newFilterCmd() *cobra.Command { return filterCommand(runFilter) }

// filterCommand declares the flags; run gets the resolved options (tests pass their own).
func filterCommand(run func(*cobra.Command, *filterOptions) error) *cobra.Command {
	o := &filterOptions{
		Run:    filter.Options{CaptionCol: "caption", Threshold: filter.DefaultThreshold, Mode: filter.ModeExact, RowsPerFile: 10000, BadRows: input.BadRowsSkip},
		Stages: filter.DefaultStageOptions(),
	}
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
txt/csv/tsv/jsonl/json/parquet file, optionally .gz (txt: one caption a line). CSV is read
as RFC 4180, TSV as tab-separated values without quoting (\t \n \\ escapes). A malformed
row (bad quoting, wrong field count, invalid UTF-8 outside the caption, NUL bytes) is skipped,
counted and listed in bad-rows.jsonl in --out; --bad-rows error stops at the first instead.

Output (--out, must not exist or be empty): Arrow files with the input's columns (the caption
replaced by its normalised form) plus matched_queries (list<utf8>) and language (utf8: ISO 639-1,
"und" when undecided, "und-Cyrl" etc. when the script pre-check decided). Only kept rows are
written, unless --keep-all adds every row with decision ("keep"/"drop") and drop_reason columns.
The directory appears only when the run succeeded (written to a temp directory, then renamed);
filter-stats.json inside it (and --stats-json) holds the counts printed at the end.

Options may also come from --config (YAML, keys as in configs/filter.yaml); flags set on the
command line override it.`,
		Example: `  wit filter --in work/pairs --queries default --out work/filtered
  wit filter --in urls.csv.gz --caption-col alt --url-col src --queries queries.txt --out work/f
  wit filter --in captions.txt --no-language --balance 0 --queries default --out work/q --keep-all
  wit filter --config configs/filter.yaml --in work/pairs --out work/filtered --mode online`,
	}
	r, st := &o.Run, &o.Stages
	b := bindConfig(cmd, o, o, "YAML file of filter options (keys as in configs/filter.yaml); flags set on the command line override it", run)
	b.String(&r.In, "in", "input: Arrow pairs directory or file, or txt/csv/tsv/jsonl/json/parquet (optionally .gz); a path or an s3:// URL (required)")
	b.String(&r.Out, "out", "output directory or s3://bucket/prefix of Arrow files (must not exist or be empty; on s3 an _INCOMPLETE marker stands until it is complete) (required)")
	b.String(&r.CaptionCol, "caption-col", "caption column")
	b.String(&r.URLCol, "url-col", `image URL column (default "image_url" for Arrow input, "url" otherwise)`)
	b.List(&r.ExtraCols, "columns", "non-Arrow input: comma-separated further columns to carry to the output")
	b.String(&st.Queries, "queries", `query list file (one entry a line, .gz ok) or "default" for the embedded list; empty: no query filter`)
	b.Bool(&st.FoldCase, "fold-case", "match queries case-insensitively (MetaCLIP is case-sensitive)")
	b.Bool(&st.NoLanguage, "no-language", "switch the language filter off")
	b.String(&st.Languages, "languages", "languages to keep, ISO 639-1 codes or names, comma-separated")
	b.String(&st.DetectLanguages, "detect-languages", `candidate languages lingua chooses among ("all" for 75; default: 20 common web languages)`)
	b.Bool(&st.LowAccuracy, "low-accuracy", "lingua's low accuracy mode: faster, less recall on short captions")
	b.Bool(&st.NoLexical, "no-lexical", "English only: skip the function-word pre-check and ask lingua about every Latin-script caption")
	b.Int(&st.LangCache, "lang-cache", "language results cached for repeated captions (LRU entries; -1 = off)")
	b.Int(&st.MinChars, "min-chars", "minimum caption length in characters (0 = off)")
	b.Int(&st.MinWords, "min-words", "minimum words per caption (0 = off)")
	b.Int(&st.MaxChars, "max-chars", "maximum caption length in characters (0 = no limit)")
	b.Bool(&st.NoJunk, "no-junk", "switch the junk rules (URLs, file names, boilerplate, symbols) off")
	b.Bool(&st.DropInvalidUTF8, "drop-invalid-utf8", "drop captions with invalid UTF-8 instead of removing the bad bytes")
	b.String(&r.BadRows, "bad-rows", "malformed input rows: skip (count them and list them in bad-rows.jsonl in --out) or error (stop at the first)")
	b.Bool(&r.NoDedup, "no-dedup", "keep duplicate (image URL, caption) pairs")
	b.Int(&r.Threshold, "balance", "balancing threshold t (pairs per query entry); 0 = no balancing")
	b.Uint64(&r.Seed, "seed", "seed of the balancing coin flips")
	b.String(&r.Mode, "mode", "balancing mode: exact (two passes) or online (running counts)")
	b.String(&r.StateDir, "state-dir", "online mode: directory keeping the running counts across runs (default: temporary)")
	b.Bool(&r.KeepAll, "keep-all", "write dropped rows too, with decision and drop_reason columns")
	b.String(&r.StatsJSON, "stats-json", "also write the stats JSON to this path")
	b.Int(&r.RowsPerFile, "rows-per-file", "rows per output Arrow file")
	b.Int(&r.Workers, "workers", "caption evaluation goroutines (default: number of CPUs)")
	return cmd
}

// runFilter filters with resolved options.
func runFilter(cmd *cobra.Command, o *filterOptions) error {
	opts, err := o.options(cmd.Flags().Changed("balance"))
	if err != nil {
		return err
	}
	stats, err := filter.Run(cmd.Context(), opts)
	if err != nil {
		return err
	}
	stats.WriteSummary(os.Stdout)
	return nil
}

// options are Run's options with the stages built. Without a query list there is nothing to
// balance: the default threshold is dropped, a threshold asked for (balanceSet, or a non-default
// one from the file) is an error.
func (o *filterOptions) options(balanceSet bool) (filter.Options, error) {
	opts := o.Run
	if opts.In == "" || opts.Out == "" {
		return opts, errors.New("filter: --in and --out are required (flags or config)")
	}
	if o.Stages.Queries == "" && opts.Threshold > 0 {
		if balanceSet || opts.Threshold != filter.DefaultThreshold {
			return opts, errors.New("filter: --balance needs --queries")
		}
		opts.Threshold = 0
	}
	var err error
	opts.Stages, err = o.Stages.Stages(slog.Default())
	return opts, err
}
