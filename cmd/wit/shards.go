package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/witdata/wit/shards"
)

func init() { rootCmd.AddCommand(newShardsCmd()) }

func newShardsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "shards",
		Short: "Inspect, verify, summarise and export Arrow shard directories",
		Long: `Tools for the Arrow IPC shard directories wit writes: image sample shards from
"wit fetch" (columns key, image, caption, url, ...) and pair files from "wit crawl" and
"wit filter" (page_url, image_url, caption, ...). DIR may be a local path or an object-store
URL (s3://bucket/prefix?region=...&endpoint=...&use_path_style=true; AWS SDK credentials).`,
	}
	cmd.AddCommand(newShardsInspectCmd(), newShardsVerifyCmd(), newShardsStatsCmd(), newShardsExportCmd())
	return cmd
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

func newShardsInspectCmd() *cobra.Command {
	var rows int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "inspect DIR|FILE",
		Short: "Show the schema, files, a few rows and the manifest of a shard directory or file",
		Long: `Show what a shard directory (or one NNNNN.arrow file) holds: the schema and its
metadata, each file's rows, bytes and record batches, a few rows (strings are shortened;
binary columns such as images show as their size and JPEG dimensions, never as bytes),
and the manifest.json summary.

Row counts come from NNNNN_stats.json or manifest.json when they record the file's current
size ("rows from" stats/manifest); otherwise every batch of the file is read ("counted").
A file that cannot be read is listed with its error, and the command then exits with
status 1; "wit shards verify" checks everything.`,
		Example: `  wit shards inspect data/shards
  wit shards inspect data/shards/00003.arrow --rows 10
  wit shards inspect data/shards --json | jq .files`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if rows == 0 {
				rows = -1 // Inspect's 0 means the default
			}
			rep, err := shards.Inspect(args[0], shards.InspectOptions{Rows: rows})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				if err := writeJSON(out, rep); err != nil {
					return err
				}
			} else {
				printInspect(out, rep)
			}
			if n := rep.Unreadable(); n > 0 {
				return fmt.Errorf("inspect %s: %d unreadable (of %d files and the manifest)", args[0], n, len(rep.Files))
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&rows, "rows", 3, "rows to show (0: none)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}

func printInspect(out io.Writer, rep *shards.InspectReport) {
	kind := rep.Kind
	if kind == "" {
		kind = "unreadable"
	}
	fmt.Fprintf(out, "%s: %s, %d files, %d rows, %s\n", rep.Path, kind, len(rep.Files), rep.TotalRows, humanBytes(rep.TotalBytes))
	if len(rep.Schema) > 0 {
		fmt.Fprintln(out, "\nschema:")
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		for _, f := range rep.Schema {
			null := ""
			if f.Nullable {
				null = "nullable"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", f.Name, f.Type, null)
		}
		tw.Flush()
	}
	if len(rep.Metadata) > 0 {
		keys := make([]string, 0, len(rep.Metadata))
		for k := range rep.Metadata {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		fmt.Fprint(out, "metadata:")
		for _, k := range keys {
			fmt.Fprintf(out, " %s=%s", k, rep.Metadata[k])
		}
		fmt.Fprintln(out)
	}
	fmt.Fprintln(out, "\nfiles:")
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "  file\trows\tbytes\tbatches\trows from\t")
	for _, f := range rep.Files {
		if f.Error != "" {
			fmt.Fprintf(tw, "  %s\t%s\t%d\t%s\t%s\t\n", f.File, "-", f.Bytes, "-", "ERROR: "+f.Error)
			continue
		}
		fmt.Fprintf(tw, "  %s\t%d\t%d\t%d\t%s\t\n", f.File, f.Rows, f.Bytes, f.Batches, f.RowsFrom)
	}
	tw.Flush()
	switch {
	case rep.ManifestError != "":
		fmt.Fprintf(out, "\nmanifest: unreadable: %s\n", rep.ManifestError)
	case rep.Manifest != nil:
		m := rep.Manifest
		fmt.Fprintf(out, "\nmanifest: schema version %d, %d shards, %d samples, %s", m.SchemaVersion, len(m.Shards), m.TotalCount, humanBytes(m.TotalBytes))
		if m.TotalCount != rep.TotalRows {
			fmt.Fprintf(out, " (files hold %d rows: run wit shards verify)", rep.TotalRows)
		}
		fmt.Fprintln(out)
	default:
		fmt.Fprintln(out, "\nmanifest: none")
	}
	fmt.Fprintf(out, "sizes.json: %v, per-shard stats files: %d\n", rep.HasSizes, rep.StatsFiles)
	if len(rep.TempFiles) > 0 {
		fmt.Fprintf(out, "temporary files (left by a killed run): %s\n", strings.Join(rep.TempFiles, ", "))
	}
	for i, row := range rep.Samples {
		fmt.Fprintf(out, "\nrow %d:\n", i)
		tw := tabwriter.NewWriter(out, 0, 4, 1, ' ', 0)
		for _, c := range row {
			v := c.Value
			if s, ok := v.(string); ok {
				v = fmt.Sprintf("%q", s)
			}
			fmt.Fprintf(tw, "  %s:\t%v\n", c.Name, v)
		}
		tw.Flush()
	}
}

func newShardsVerifyCmd() *cobra.Command {
	var opts shards.VerifyOptions
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "verify DIR",
		Short: "Check every shard file of a directory and report each problem; exit 1 on any",
		Long: `Check a shard directory completely and report every problem with its file, record
batch, row and key:

  - every committed NNNNN.arrow opens and every record batch reads (buffer sizes and
    offsets are validated, so a truncated or overwritten file is caught, never a crash);
  - every record batch matches the CRC-32C written with it, and each file's schema its
    own: any changed byte of a value (an image, a URL, a caption, an offset) is found.
    Shards written before wit recorded checksums have none; a note says how many;
  - the schema is the same in every file and has the expected column types;
  - row counts and sizes match manifest.json, sizes.json and each NNNNN_stats.json
    (when present; a shard without a stats record is reported when others have one);
  - image shards: keys are img2dataset keys (9-19 digits) and unique across the
    directory; each image starts with the JPEG SOI marker and its header decodes to the
    width and height in its row; sha256 is 64 hex digits;
  - leftover temporary files (*.tmp-*) of a killed run.

For shards without checksums, the header check does not see corruption inside an image's
compressed data; --decode decodes every image fully, which catches most of it (about 2 ms
per 256 px image per core).
Memory: one record batch plus about 40 bytes per sample for the key check.
Exit status: 0 when nothing is wrong, 1 otherwise.`,
		Example: `  wit shards verify data/shards
  wit shards verify data/shards --decode --json > report.json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rep, err := shards.Verify(cmd.Context(), args[0], opts)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				if err := writeJSON(out, rep); err != nil {
					return err
				}
			} else {
				for _, p := range rep.Problems {
					fmt.Fprintln(out, p.String())
				}
				if rep.ProblemCount > len(rep.Problems) {
					fmt.Fprintf(out, "... and %d more problems (--max-problems)\n", rep.ProblemCount-len(rep.Problems))
				}
				for _, n := range rep.Notes {
					fmt.Fprintln(out, "note:", n)
				}
				status := "OK"
				if !rep.OK() {
					status = fmt.Sprintf("%d PROBLEMS", rep.ProblemCount)
				}
				fmt.Fprintf(out, "%s: %s (%s; %d files, %d batches (%d with matching checksums), %d rows, %d images checked, %s)\n",
					args[0], status, rep.Kind, rep.Files, rep.Batches, rep.Checksummed, rep.Rows, rep.Images, humanBytes(rep.Bytes))
			}
			if !rep.OK() {
				return fmt.Errorf("verify %s: %d problems", args[0], rep.ProblemCount)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&opts.DecodeImages, "decode", false, "decode every image fully, not just its header (slower; catches corrupt image data)")
	cmd.Flags().IntVar(&opts.MaxProblems, "max-problems", 1000, "problems to list (all are counted)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}

func newShardsStatsCmd() *cobra.Command {
	var top int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "stats DIR",
		Short: "Summarise a shard directory: samples, bytes, captions, image sizes, sources, languages, queries",
		Long: `Read every record batch of a shard directory once and summarise it: samples, file and
image bytes, mean caption length (characters and words), empty captions, the distribution
of stored image sizes and of original sizes (by the longer side), the caption_source and
language mix (page_lang for pair files) and the most matched queries.`,
		Example: `  wit shards stats data/shards
  wit shards stats data/shards --top 50 --json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := shards.ComputeStats(cmd.Context(), args[0], top)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return writeJSON(out, st)
			}
			fmt.Fprintf(out, "%s: %s, %d files, %d samples, %s\n", st.Dir, st.Kind, st.Files, st.Samples, humanBytes(st.FileBytes))
			if st.ImageBytes > 0 {
				fmt.Fprintf(out, "images: %s, mean %.1f KiB\n", humanBytes(st.ImageBytes), st.MeanImageBytes/1024)
			}
			fmt.Fprintf(out, "captions: mean %.1f characters, %.1f words; %d empty\n", st.MeanCaptionChars, st.MeanCaptionWords, st.EmptyCaptions)
			printCounts(out, fmt.Sprintf("image sizes (%d distinct)", st.DistinctImageSizes), st.ImageSizes)
			printCounts(out, "original sizes (longer side)", st.OriginalSizes)
			printCounts(out, "caption sources", st.CaptionSources)
			printCounts(out, "languages", st.Languages)
			if st.TopQueries != nil {
				printCounts(out, fmt.Sprintf("top queries (%d distinct; %d samples match one)", st.DistinctQueries, st.WithQuery), st.TopQueries)
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&top, "top", 20, "entries to list for image sizes, languages and queries")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the summary as JSON")
	return cmd
}

func printCounts(out io.Writer, title string, cs []shards.Count) {
	if len(cs) == 0 {
		return
	}
	fmt.Fprintf(out, "\n%s:\n", title)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	for _, c := range cs {
		v := c.Value
		if v == "" {
			v = "(empty)"
		}
		fmt.Fprintf(tw, "  %s\t%d\t%.1f%%\t\n", v, c.Count, 100*c.Share)
	}
	tw.Flush()
}

func newShardsExportCmd() *cobra.Command {
	var opts shards.ExportOptions
	var out string
	cmd := &cobra.Command{
		Use:   "export DIR --format webdataset|parquet --out DIR2",
		Short: "Export shards as webdataset tars (OpenCLIP) or Parquet files (pyarrow, DuckDB, HF datasets)",
		Long: `Export the committed shards of DIR into DIR2.

webdataset: one tar per shard, named like it (00003.arrow -> 00003.tar), or with
  --samples-per-tar N the whole data set re-cut into tars of N samples (00000.tar, ...;
  the last may be shorter). Each sample is three consecutive files: KEY.jpg (the image),
  KEY.txt (the caption) and KEY.json (every other column). OpenCLIP reads them with
  --train-data 'DIR2/{00000..NNNNN}.tar' and sizes.json. Needs image shards: pair files
  (no images) can only be exported as Parquet.
parquet: one .parquet per shard, named like it, with the same columns (image as binary)
  and the Arrow schema embedded. Text columns are compressed with --compression (zstd by
  default; snappy and none also work everywhere); the image column is stored uncompressed
  (JPEG does not compress). Row groups hold --row-group-rows rows, cut earlier at 64 MiB.

Each output is written under a temporary name and renamed when complete, then recorded in
DIR2/manifest.json (format, options, per-file samples and bytes) and DIR2/sizes.json
({"00000.tar": samples, ...}). A rerun skips the outputs the manifest lists with their
current size, so an interrupted export resumes where it stopped; rerunning with other
options into the same DIR2 is refused. Memory stays at one record batch (plus one
row group for Parquet).`,
		Example: `  wit shards export data/shards --format webdataset --out data/wds
  wit shards export data/shards --format webdataset --samples-per-tar 1000 --out data/wds1k
  wit shards export data/shards --format parquet --out data/parquet
  wit shards export work/filtered --format parquet --compression snappy --out work/pairs-parquet`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return fmt.Errorf("--out is required")
			}
			if opts.Format == "" {
				return fmt.Errorf("--format is required (webdataset or parquet)")
			}
			if opts.Format == shards.FormatWebDataset && cmd.Flags().Changed("compression") {
				return fmt.Errorf("--compression applies to --format parquet")
			}
			opts.Logger = slog.Default()
			res, err := shards.Export(cmd.Context(), args[0], out, opts)
			if res != nil {
				mbps := 0.0
				if s := res.Elapsed.Seconds(); s > 0 {
					mbps = float64(res.SourceBytes) / s / 1e6
				}
				slog.Info("export: done", "out", out, "written", res.Written, "skipped", res.Skipped,
					"samples", res.Samples, "bytes", res.Bytes, "elapsed", res.Elapsed.Round(1e6), "MB/s", fmt.Sprintf("%.0f", mbps))
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Format, "format", "", "output format: webdataset (tars of KEY.jpg/KEY.txt/KEY.json) or parquet")
	f.StringVar(&out, "out", "", "output directory or s3:// URL (created; must not be DIR)")
	f.IntVar(&opts.SamplesPerTar, "samples-per-tar", 0, "webdataset: samples per tar, re-cutting the data set across shards (0: one tar per shard)")
	f.StringVar(&opts.Compression, "compression", "zstd", "parquet: codec of the non-image columns: zstd, snappy or none")
	f.IntVar(&opts.RowGroupRows, "row-group-rows", 1024, "parquet: rows per row group (a group is also cut at 64 MiB)")
	return cmd
}
