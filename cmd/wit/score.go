package main

import (
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/witdata/wit/eval"
	"github.com/witdata/wit/internal/input"
	"github.com/witdata/wit/shards"
)

func init() { rootCmd.AddCommand(newScoreCmd()) }

type scoreOutput struct {
	Checkpoint checkpointInfo `json:"checkpoint"`
	*eval.ScoreSummary
}

func newScoreCmd() *cobra.Command {
	var (
		checkpoint, shardDir, in, out, imageCol, captionCol, urlCol, format string
		minScore                                                            float64
		chunk, rowsPerFile                                                  int
		asJSON, quiet                                                       bool
	)
	cmd := &cobra.Command{
		Use:   "score --checkpoint RUN (--shards DIR | --in PAIRS) --out DIR",
		Short: "CLIP score of image–caption pairs (LAION's similarity filter), optionally filtering",
		Long: `Compute the CLIP score of every image–caption pair: the cosine similarity of the image and
caption embeddings (what LAION-400M kept above 0.28 and LAION-5B above 0.28/0.3 with OpenAI's
ViT-B/32; thresholds depend on the model, so look at the printed quantiles of your own model
first).

  --shards DIR  image shards: every row is written to --out with all its columns plus
                clip_score (float32; null for an unusable image; replaced if present)
  --in FILE     pairs of local image files and captions (csv, tsv, jsonl, json, parquet, arrow;
                columns --url-col and --caption-col; paths relative to FILE's folder, or
                file:// URLs; download web images with "wit fetch" first): writes key, url,
                caption, clip_score; unusable images are listed, not written

--min-score keeps only the rows scoring at least that much (unusable images are dropped too).
--out must be a new or empty folder.`,
		Example: `  wit score --checkpoint runs/tiny --shards data/shards --out work/scored
  wit score --checkpoint runs/tiny --shards data/shards --out data/filtered --min-score 0.28 --json
  wit score --checkpoint runs/tiny --in pairs.csv --url-col path --out work/pair-scores`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := exactlyOne(cmd, "shards", "in"); err != nil {
				return err
			}
			if out == "" {
				return errors.New("--out is required (a folder for the scored shards)")
			}
			if !cmd.Flags().Changed("min-score") {
				minScore = math.NaN()
			} else if math.IsNaN(minScore) || minScore < -1 || minScore > 1 {
				return fmt.Errorf("--min-score %v: a cosine similarity lies in [-1, 1]", minScore)
			}
			e, err := loadEmbedder(cmd, checkpoint)
			if err != nil {
				return err
			}
			info := infoOf(e)
			opts := eval.ScoreOptions{
				RunOptions: eval.RunOptions{Chunk: chunk, Progress: progressWriter(cmd, quiet)},
				ImageCol:   imageCol, CaptionCol: captionCol, MinScore: minScore,
				Metadata: info.metadata(), Writer: shards.WriterOptions{RowsPerFile: rowsPerFile},
			}
			ctx := cmd.Context()
			var sum *eval.ScoreSummary
			if shardDir != "" {
				if opts.Total, err = eval.CountShardRows(shardDir); err != nil {
					return fmt.Errorf("--shards: %w", err)
				}
				sum, err = eval.Score(ctx, e, shardDir, out, opts)
			} else {
				sum, err = eval.ScoreRecords(ctx, e, pairRecords(cmd, in, urlCol, captionCol, format), out, opts)
			}
			if err != nil {
				return err
			}
			return emitReport(cmd, scoreOutput{Checkpoint: info, ScoreSummary: sum}, asJSON, "", func(w io.Writer) {
				fmt.Fprintf(w, "score: %d pairs scored, %d written to %s, %d dropped, %d unusable\n", sum.Scored, sum.Rows, out, sum.Dropped, sum.Unusable)
				q := sum.Quantiles
				fmt.Fprintf(w, "  mean %.4f  p5 %.4f  p25 %.4f  median %.4f  p75 %.4f  p95 %.4f\n", sum.Mean, q["p5"], q["p25"], q["p50"], q["p75"], q["p95"])
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&checkpoint, "checkpoint", "", "run folder (its latest checkpoint is used) or a checkpoint folder (run/checkpoints/step-N)")
	f.StringVar(&shardDir, "shards", "", "folder of image shards to score (a path or an s3:// URL)")
	f.StringVar(&in, "in", "", "file of (local image path, caption) pairs to score")
	f.StringVar(&out, "out", "", "output folder (new or empty)")
	f.Float64Var(&minScore, "min-score", 0, "keep only pairs whose CLIP score is at least this (default: keep all)")
	f.StringVar(&imageCol, "image-col", shards.ColImage, "with --shards: the binary column holding the image")
	f.StringVar(&captionCol, "caption-col", shards.ColCaption, "the column holding the caption")
	f.StringVar(&urlCol, "url-col", "url", "with --in: the column holding the image's path or file:// URL")
	f.StringVar(&format, "input-format", "", "with --in: the format when the extension does not say")
	f.IntVar(&chunk, "batch", 256, "pairs decoded and embedded per call")
	f.IntVar(&rowsPerFile, "rows-per-file", 10000, "start a new output file after this many rows")
	f.BoolVar(&asJSON, "json", false, "print the summary (counts, mean, quantiles) as JSON on stdout")
	f.BoolVar(&quiet, "quiet", false, "no progress lines on stderr")
	return cmd
}

// pairRecords reads (image path, caption) rows and loads each image file; a row whose file cannot
// be read becomes a record without an image (counted as unusable, the run goes on).
func pairRecords(cmd *cobra.Command, in, urlCol, captionCol, format string) func(yield func(eval.Record, error) bool) {
	base := filepath.Dir(in)
	return func(yield func(eval.Record, error) bool) {
		for row, err := range input.Read(cmd.Context(), in, input.Options{Columns: []string{urlCol, captionCol}, Format: format, Arrow: shards.ReadPath}) {
			if err != nil {
				yield(eval.Record{}, fmt.Errorf("--in: %w", err))
				return
			}
			ref, caption := row.Values[0], row.Values[1]
			r := eval.Record{ID: ref, Caption: caption}
			if path, err := localPath(base, ref); err != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "row %d: %v\n", row.Index, err)
			} else if data, err := os.ReadFile(path); err != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "row %d: %v\n", row.Index, err)
			} else {
				r.Image = data
			}
			if !yield(r, nil) {
				return
			}
		}
	}
}

// localPath resolves a file path or file:// URL (relative paths against base).
func localPath(base, ref string) (string, error) {
	if ref == "" {
		return "", errors.New("empty image path")
	}
	if strings.HasPrefix(ref, "file://") {
		u, err := url.Parse(ref)
		if err != nil {
			return "", fmt.Errorf("image %q: %w", ref, err)
		}
		return u.Path, nil
	}
	if strings.Contains(ref, "://") {
		return "", fmt.Errorf("image %q: not a local file (download with wit fetch, then score the shards)", ref)
	}
	if !filepath.IsAbs(ref) {
		ref = filepath.Join(base, ref)
	}
	return ref, nil
}
