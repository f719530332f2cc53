package main

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/witdata/wit/shards"
	"github.com/witdata/wit/tokenizer"
)

func init() { rootCmd.AddCommand(newTokenizerCmd()) }

func newTokenizerCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tokenizer",
		Short: "Train or try the byte-level BPE tokenizer of the CLIP text tower",
	}
	cmd.AddCommand(newTokenizerTrainCmd(), newTokenizerEncodeCmd())
	return cmd
}

// tokenizerTrainOptions is what `wit tokenizer train` reads from its flags and --config.
type tokenizerTrainOptions struct {
	Shards       string `yaml:"shards"`
	Out          string `yaml:"out"`
	Vocab        int    `yaml:"vocab"`
	MaxCaptions  int64  `yaml:"max_captions"`
	MinFrequency int    `yaml:"min_frequency"`
}

func newTokenizerTrainCmd() *cobra.Command {
	o := tokenizerTrainOptions{Vocab: tokenizer.DefaultVocabSize, MinFrequency: 2}
	cmd := &cobra.Command{
		Use:   "train --shards DIR --out tok.json [--vocab 8192]",
		Short: "Learn BPE merges from the captions of image shards",
		Long: `Learn a byte-level BPE tokenizer (GPT-2/CLIP style) from the "caption" column of the shards.

Captions are lower-cased and split into pieces (contractions, words with their leading space,
numbers, punctuation runs, white space); merges of adjacent symbols are learned most-frequent
first until the vocabulary holds --vocab ids: 256 bytes, the merges, then <start_of_text> and
<end_of_text> (the largest id, as the model expects). Training stops early when no pair occurs
--min-frequency times. The result (tok.json, written atomically) is what "wit train --tokenizer"
takes, and is copied into every checkpoint.`,
	}
	run := func(cmd *cobra.Command, _ *tokenizerTrainOptions) error {
		shardsDir, out, vocab := o.Shards, o.Out, o.Vocab
		if shardsDir == "" || out == "" {
			return fmt.Errorf("--shards and --out are required")
		}
		start := time.Now()
		captions, readErr := shards.Captions(cmd.Context(), shardsDir)
		c := tokenizer.NewCounter()
		c.AddAll(captions, o.MaxCaptions)
		if err := readErr(); err != nil {
			return err
		}
		counted := time.Since(start)
		tok, err := c.Train(tokenizer.TrainOptions{VocabSize: vocab, MinFrequency: o.MinFrequency})
		if err != nil {
			return fmt.Errorf("train tokenizer on %s: %w", shardsDir, err)
		}
		if err := tok.Save(out); err != nil {
			return err
		}
		slog.Info("tokenizer trained", "captions", c.Captions(), "distinct_pieces", c.Pieces(), "vocab", tok.VocabSize(),
			"merges", tok.NumMerges(), "count_time", counted.Round(time.Millisecond), "total_time", time.Since(start).Round(time.Millisecond), "out", out)
		if tok.VocabSize() < vocab {
			slog.Warn("the captions support fewer merges than asked", "vocab", tok.VocabSize(), "asked", vocab)
		}
		return nil
	}
	b := bindConfig(cmd, &o, &o, "YAML file of these options, keys as the flags with _ for - (shards, out, vocab, max_captions, min_frequency); flags set on the command line override it", run)
	b.String(&o.Shards, "shards", "image shard folder, a path or an s3:// URL (its *.arrow files' caption column is read)")
	b.String(&o.Out, "out", "tokenizer file to write (JSON)")
	b.Int(&o.Vocab, "vocab", "vocabulary size including the 256 bytes and 2 special tokens; must not exceed the model's vocab_size")
	b.Int64(&o.MaxCaptions, "max-captions", "read at most this many captions (0: all)")
	b.Int(&o.MinFrequency, "min-frequency", "never merge a pair seen fewer times than this")
	return cmd
}

func newTokenizerEncodeCmd() *cobra.Command {
	var (
		path    string
		context int
	)
	cmd := &cobra.Command{
		Use:   "encode --tokenizer tok.json TEXT...",
		Short: "Print the ids and pieces of texts (to inspect a tokenizer)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			tok, err := tokenizer.Load(path)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			for _, text := range args {
				ids := tok.Encode(text, context)
				fmt.Fprintf(w, "%q\n  ids: %v\n  tokens:", text, ids)
				for _, id := range ids {
					s, _ := tok.Token(id)
					fmt.Fprintf(w, " %q", s)
					if id == tok.EndID() {
						break // padding follows
					}
				}
				fmt.Fprintf(w, "\n  decoded: %q\n", tok.Decode(ids))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&path, "tokenizer", "tok.json", "tokenizer file")
	cmd.Flags().IntVar(&context, "context", 77, "context length (ids per text, with start and end tokens and padding)")
	return cmd
}
