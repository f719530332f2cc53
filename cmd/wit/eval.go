package main

import (
	"errors"
	"fmt"
	"io"
	"iter"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/witdata/wit/eval"
	"github.com/witdata/wit/inference"
	"github.com/witdata/wit/internal/atomicfile"
	"github.com/witdata/wit/shards"
)

func init() { rootCmd.AddCommand(newEvalCmd()) }

func newEvalCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "eval",
		Short: "Evaluate a CLIP checkpoint: zero-shot classification and image–text retrieval",
		Long: `Evaluate a trained checkpoint on images it has not seen.

  zeroshot   classify images by comparing them with text prompts of class names (top-1/top-5)
  retrieval  rank captions for every image and images for every caption (recall@1/5/10)

Every figure is printed beside its chance level, so an untrained model is easy to spot.`,
	}
	cmd.AddCommand(newEvalZeroShotCmd(), newEvalRetrievalCmd())
	return cmd
}

// loadEmbedder opens a run folder (its latest checkpoint) or one checkpoint folder.
func loadEmbedder(cmd *cobra.Command, dir string) (*inference.Embedder, error) {
	if dir == "" {
		return nil, errors.New("--checkpoint is required (a run folder such as runs/tiny, or one of its checkpoints/step-N folders)")
	}
	e, err := inference.LoadCheckpoint(dir)
	if err != nil {
		return nil, fmt.Errorf("load checkpoint %s: %w", dir, err)
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "checkpoint %s: %s, step %d, %d-d embeddings\n", e.Dir, e.Config.Name, e.State.Step, e.Dim())
	return e, nil
}

// checkpointInfo describes the checkpoint in reports and output metadata.
type checkpointInfo struct {
	Dir   string `json:"dir"`
	Model string `json:"model"`
	Step  int64  `json:"step"`
}

func infoOf(e *inference.Embedder) checkpointInfo {
	return checkpointInfo{Dir: e.Dir, Model: e.Config.Name, Step: e.State.Step}
}

func (c checkpointInfo) metadata() map[string]string {
	return map[string]string{"wit.checkpoint": c.Dir, "wit.model": c.Model, "wit.step": strconv.FormatInt(c.Step, 10)}
}

// emitReport prints report as JSON on stdout (--json), writes it to outFile atomically (--out), and
// otherwise prints the human summary.
func emitReport(cmd *cobra.Command, report any, asJSON bool, outFile string, human func(w io.Writer)) error {
	data, err := indentJSON(report)
	if err != nil {
		return err
	}
	if outFile != "" {
		if err := atomicfile.WriteFile(outFile, data); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
	}
	if asJSON {
		_, err = cmd.OutOrStdout().Write(data)
		return err
	}
	human(cmd.OutOrStdout())
	return nil
}

// exactlyOne checks that exactly one of the named flags is set.
func exactlyOne(cmd *cobra.Command, names ...string) error {
	n := 0
	for _, name := range names {
		if cmd.Flags().Changed(name) {
			n++
		}
	}
	if n != 1 {
		return fmt.Errorf("give exactly one of --%s", strings.Join(names, ", --"))
	}
	return nil
}

func progressWriter(cmd *cobra.Command, quiet bool) io.Writer {
	if quiet {
		return nil
	}
	return cmd.ErrOrStderr()
}

// imageSource is the records of --images DIR or --shards DIR, with their count for progress.
func imageSource(cmd *cobra.Command, images, shardDir string, opts eval.ShardOptions) (iter.Seq2[eval.Record, error], int64, error) {
	ctx := cmd.Context()
	if images != "" {
		n, err := eval.CountImageDir(images)
		if err != nil {
			return nil, 0, fmt.Errorf("--images: %w", err)
		}
		return eval.ImageDir(ctx, images), int64(n), nil
	}
	n, err := eval.CountShardRows(shardDir)
	if err != nil {
		return nil, 0, fmt.Errorf("--shards: %w", err)
	}
	return eval.ShardDir(ctx, shardDir, opts), n, nil
}

type zeroShotOutput struct {
	Checkpoint checkpointInfo `json:"checkpoint"`
	Source     string         `json:"source"`
	*eval.ZeroShotReport
}

func newEvalZeroShotCmd() *cobra.Command {
	var (
		checkpoint, images, shardDir, classesFile, templates, labelCol, outFile string
		ks                                                                      []int
		chunk                                                                   int
		asJSON, quiet, perClass                                                 bool
	)
	cmd := &cobra.Command{
		Use:   "zeroshot --checkpoint RUN (--images DIR | --shards DIR) --classes classes.txt",
		Short: "Zero-shot classification with prompt-template ensembling (top-1/top-5)",
		Long: `Classify images without training a classifier, as in the CLIP paper: every class name is put
into every prompt template ("an emoji of {}.", ...), the prompts are embedded and normalised,
averaged per class and renormalised; each image goes to the class whose averaged prompt
embedding is closest (cosine). Prints top-k accuracy beside chance (k/classes), the
majority-class baseline (always answering the most frequent class of these images) and the
balanced accuracy (mean per-class top-1).

Images: --images DIR holds one subfolder per class (DIR/<label>/*.png|jpg|gif, torchvision's
ImageFolder layout); --shards DIR reads image shards and takes the label from --label-col
(default: the caption). Images whose label is not in --classes are counted and skipped.

--classes: one class a line, "label" or "label<TAB>name used in prompts" (e.g.
"food-drink<TAB>food and drink"); # comments.

--templates: a named set (emoji: short pictogram prompts, the default; photo: the 7 ImageNet
templates OpenAI's notebook selected; plain: the bare class name) or a file with one template
a line, {} marking the class name.`,
		Example: `  wit eval zeroshot --checkpoint runs/tiny --images heldout/ --classes groups.txt
  wit eval zeroshot --checkpoint runs/tiny --shards data/val --label-col label --classes classes.txt --templates photo --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := exactlyOne(cmd, "images", "shards"); err != nil {
				return err
			}
			if classesFile == "" {
				return errors.New("--classes is required")
			}
			classes, err := eval.LoadClasses(classesFile)
			if err != nil {
				return err
			}
			tpl, err := eval.ResolveTemplates(templates)
			if err != nil {
				return fmt.Errorf("--templates: %w", err)
			}
			e, err := loadEmbedder(cmd, checkpoint)
			if err != nil {
				return err
			}
			src, total, err := imageSource(cmd, images, shardDir, eval.ShardOptions{LabelCol: labelCol})
			if err != nil {
				return err
			}
			rep, err := eval.RunZeroShot(cmd.Context(), e, src, classes, tpl, ks, eval.RunOptions{Chunk: chunk, Progress: progressWriter(cmd, quiet), Total: total})
			if err != nil {
				return err
			}
			out := zeroShotOutput{Checkpoint: infoOf(e), Source: images + shardDir, ZeroShotReport: rep}
			return emitReport(cmd, out, asJSON, outFile, func(w io.Writer) {
				fmt.Fprintf(w, "zero-shot: %d images, %d classes, %d templates (%.1fs)\n", rep.Images, rep.Classes, len(rep.Templates), rep.Seconds)
				for _, a := range rep.AtK {
					fmt.Fprintf(w, "  top-%-2d %6.2f%%   chance %6.2f%%   majority %6.2f%%\n", a.K, 100*a.Accuracy, 100*a.Chance, 100*a.Majority)
				}
				fmt.Fprintf(w, "  balanced top-1 %6.2f%% (chance %.2f%%)\n", 100*rep.BalancedTop1, 100/float64(rep.Classes))
				if rep.Unlabelled > 0 || rep.Unusable > 0 {
					fmt.Fprintf(w, "  skipped: %d with a label outside the classes, %d unusable images\n", rep.Unlabelled, rep.Unusable)
				}
				if perClass {
					for _, c := range rep.PerClass {
						fmt.Fprintf(w, "  %-30s %5d images  top-1 %6.2f%%  predicted %5d\n", c.Name, c.Count, 100*c.Top1, c.Predicted)
					}
				}
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&checkpoint, "checkpoint", "", "run folder (its latest checkpoint is used) or a checkpoint folder (run/checkpoints/step-N)")
	f.StringVar(&images, "images", "", "folder of images in one subfolder per class (DIR/<label>/<file>); .jpg .jpeg .png .gif")
	f.StringVar(&shardDir, "shards", "", "folder of image shards (*.arrow), a path or an s3:// URL; labels come from --label-col")
	f.StringVar(&classesFile, "classes", "", `class list: one "label" or "label<TAB>prompt name" a line`)
	f.StringVar(&templates, "templates", "emoji", "prompt templates: emoji, photo, plain, or a file of templates with {} for the class name")
	f.StringVar(&labelCol, "label-col", shards.ColCaption, "with --shards: the utf8 column holding each image's label")
	f.IntSliceVar(&ks, "k", eval.DefaultAccuracyKs, "top-k accuracies to report")
	f.IntVar(&chunk, "batch", 256, "images decoded and embedded per call (memory: about batch × decoded image size)")
	f.BoolVar(&asJSON, "json", false, "print the full report (per-class scores included) as JSON on stdout")
	f.StringVar(&outFile, "out", "", "also write the JSON report to this file (atomically)")
	f.BoolVar(&perClass, "per-class", false, "print per-class accuracy and prediction counts")
	f.BoolVar(&quiet, "quiet", false, "no progress lines on stderr")
	return cmd
}

type retrievalOutput struct {
	Checkpoint checkpointInfo `json:"checkpoint"`
	Source     string         `json:"source"`
	*eval.RetrievalReport
}

func newEvalRetrievalCmd() *cobra.Command {
	var (
		checkpoint, shardDir, captionCol, outFile string
		ks                                        []int
		chunk                                     int
		asJSON, quiet                             bool
	)
	cmd := &cobra.Command{
		Use:   "retrieval --checkpoint RUN --shards DIR",
		Short: "Image→text and text→image retrieval recall@1/5/10",
		Long: `Embed every image and caption of a shard folder and rank, for every image, all captions (and for
every caption, all images) by cosine similarity. Recall@k is the share of queries with a
matching item among the first k (OpenCLIP's protocol). Images with the same SHA-256 count as
one image matching each of its captions, identical captions as one text matching each of their
images, so duplicates never turn a right answer into a miss; rows without a caption stay in as
distractor images. Ties are broken at random in expectation. Printed beside chance.`,
		Example: `  wit eval retrieval --checkpoint runs/tiny --shards data/val
  wit eval retrieval --checkpoint runs/tiny/checkpoints/step-000002000 --shards data/val --k 1,5,10,50 --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if shardDir == "" {
				return errors.New("--shards is required")
			}
			e, err := loadEmbedder(cmd, checkpoint)
			if err != nil {
				return err
			}
			src, total, err := imageSource(cmd, "", shardDir, eval.ShardOptions{CaptionCol: captionCol})
			if err != nil {
				return err
			}
			rep, err := eval.RunRetrieval(cmd.Context(), e, src, ks, eval.RunOptions{Chunk: chunk, Progress: progressWriter(cmd, quiet), Total: total})
			if err != nil {
				return err
			}
			out := retrievalOutput{Checkpoint: infoOf(e), Source: shardDir, RetrievalReport: rep}
			return emitReport(cmd, out, asJSON, outFile, func(w io.Writer) {
				fmt.Fprintf(w, "retrieval: %d images, %d captions, %d links (%.1fs)\n", rep.Images, rep.Texts, rep.Links, rep.Seconds)
				for _, d := range []struct {
					name string
					d    eval.Direction
				}{{"image→text", rep.ImageToText}, {"text→image", rep.TextToImage}} {
					fmt.Fprintf(w, "  %s (%d queries, median rank %.1f)\n", d.name, d.d.Queries, d.d.MedianRank)
					for _, a := range d.d.AtK {
						fmt.Fprintf(w, "    R@%-3d %6.2f%%   chance %6.2f%%\n", a.K, 100*a.Recall, 100*a.Chance)
					}
				}
				if rep.Unusable > 0 || rep.DuplicateRows > 0 || rep.EmptyCaptions > 0 {
					fmt.Fprintf(w, "  %d unusable images, %d duplicate images, %d rows without caption\n", rep.Unusable, rep.DuplicateRows, rep.EmptyCaptions)
				}
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&checkpoint, "checkpoint", "", "run folder (its latest checkpoint is used) or a checkpoint folder (run/checkpoints/step-N)")
	f.StringVar(&shardDir, "shards", "", "folder of image shards (*.arrow), a path or an s3:// URL, with image and caption columns")
	f.StringVar(&captionCol, "caption-col", shards.ColCaption, "utf8 column holding the caption")
	f.IntSliceVar(&ks, "k", eval.DefaultRecallKs, "recall@k cut-offs to report")
	f.IntVar(&chunk, "batch", 256, "images decoded and embedded per call")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON on stdout")
	f.StringVar(&outFile, "out", "", "also write the JSON report to this file (atomically)")
	f.BoolVar(&quiet, "quiet", false, "no progress lines on stderr")
	return cmd
}
