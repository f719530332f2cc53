package main

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/witdata/wit/eval"
	"github.com/witdata/wit/internal/input"
	"github.com/witdata/wit/internal/storage"
	"github.com/witdata/wit/shards"
)

func init() { rootCmd.AddCommand(newEmbedCmd()) }

type embedOutput struct {
	Checkpoint checkpointInfo `json:"checkpoint"`
	*eval.EmbedSummary
}

func newEmbedCmd() *cobra.Command {
	var (
		checkpoint, shardDir, images, texts, out, textCol, captionCol, format string
		chunk, rowsPerFile                                                    int
		captions, asJSON, quiet                                               bool
	)
	cmd := &cobra.Command{
		Use:   "embed --checkpoint RUN (--shards DIR | --images DIR | --texts FILE) --out DIR",
		Short: "Write image and/or text embeddings of shards, image folders or texts to Arrow files",
		Long: `Embed with a checkpoint's towers and write the L2-normalised embeddings to Arrow IPC files in
--out (00000.arrow, ... written atomically by the shard writer; readable by pyarrow, DuckDB,
numpy via to_numpy). Embeddings are fixed_size_list<float32>[dim] columns; schema metadata
records the checkpoint, model, step and dimension.

  --shards DIR   key, caption, image_embedding and (unless --captions=false) text_embedding
  --images DIR   key (path under DIR), caption (empty), label (first folder under DIR), image_embedding
  --texts FILE   key (row number), text, text_embedding; FILE is txt (one text a line) or
                 csv/tsv/jsonl/json/parquet/arrow with the text in --text-col

Unusable images (corrupt, too large) are left out and listed; --out must be a new or empty
folder.`,
		Example: `  wit embed --checkpoint runs/tiny --shards data/val --out work/val-emb
  wit embed --checkpoint runs/tiny --texts prompts.txt --out work/prompt-emb --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := exactlyOne(cmd, "shards", "images", "texts"); err != nil {
				return err
			}
			if out == "" {
				return errors.New("--out is required (a folder for the embedding files)")
			}
			e, err := loadEmbedder(cmd, checkpoint)
			if err != nil {
				return err
			}
			info := infoOf(e)
			opts := eval.EmbedWriteOptions{
				RunOptions: eval.RunOptions{Chunk: chunk, Progress: progressWriter(cmd, quiet)},
				Metadata:   info.metadata(),
				Writer:     shards.WriterOptions{RowsPerFile: rowsPerFile},
			}
			ctx := cmd.Context()
			var sum *eval.EmbedSummary
			if texts != "" {
				src := func(yield func(eval.TextRecord, error) bool) {
					for row, err := range input.Read(ctx, texts, input.Options{Columns: []string{textCol}, Format: format, Arrow: shards.ReadPath}) {
						if err != nil {
							yield(eval.TextRecord{}, fmt.Errorf("--texts: %w", err))
							return
						}
						if !yield(eval.TextRecord{Key: strconv.FormatInt(row.Index, 10), Text: row.Values[0]}, nil) {
							return
						}
					}
				}
				sum, err = eval.WriteTextEmbeddings(ctx, e, src, out, opts)
			} else {
				src, total, serr := imageSource(cmd, images, shardDir, eval.ShardOptions{CaptionCol: captionCol})
				if serr != nil {
					return serr
				}
				opts.Total = total
				opts.Texts = shardDir != "" && captions
				opts.Label = images != ""
				sum, err = eval.WriteImageEmbeddings(ctx, e, src, out, opts)
			}
			if err != nil {
				return err
			}
			sum.Out = out
			if !storage.IsRemote(out) {
				sum.Out, _ = filepath.Abs(out)
			}
			return emitReport(cmd, embedOutput{Checkpoint: info, EmbedSummary: sum}, asJSON, "", func(w io.Writer) {
				fmt.Fprintf(w, "embed: %d rows in %d file(s) under %s (%d-d), %d unusable\n", sum.Rows, sum.Files, out, e.Dim(), sum.Unusable)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&checkpoint, "checkpoint", "", "run folder (its latest checkpoint is used) or a checkpoint folder (run/checkpoints/step-N)")
	f.StringVar(&shardDir, "shards", "", "embed the images (and captions) of this folder of image shards (a path or an s3:// URL)")
	f.StringVar(&images, "images", "", "embed the images under this folder (.jpg .jpeg .png .gif, recursively; first subfolder = label)")
	f.StringVar(&texts, "texts", "", "embed the texts of this file (txt: one a line; or csv/tsv/jsonl/json/parquet/arrow, see --text-col)")
	f.StringVar(&out, "out", "", "output folder for the embedding files (new or empty)")
	f.StringVar(&textCol, "text-col", "text", "with --texts and a tabular file: the column holding the text")
	f.StringVar(&format, "input-format", "", "with --texts: the format when the extension does not say (txt, csv, tsv, jsonl, json, parquet, arrow)")
	f.StringVar(&captionCol, "caption-col", shards.ColCaption, "with --shards: the utf8 column holding the caption")
	f.BoolVar(&captions, "captions", true, "with --shards: also embed the captions (text_embedding column)")
	f.IntVar(&chunk, "batch", 256, "items decoded and embedded per call")
	f.IntVar(&rowsPerFile, "rows-per-file", 100000, "start a new output file after this many rows")
	f.BoolVar(&asJSON, "json", false, "print the summary as JSON on stdout")
	f.BoolVar(&quiet, "quiet", false, "no progress lines on stderr")
	return cmd
}
