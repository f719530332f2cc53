package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/witdata/wit/filter"
	"github.com/witdata/wit/model"
	"github.com/witdata/wit/querymatch"
)

// resolve runs a command built by mk on args with a run function that only keeps the resolved
// options: what the stage would have been started with.
func resolve[T any](t *testing.T, mk func(func(*cobra.Command, *T) error) *cobra.Command, args ...string) *T {
	t.Helper()
	got, err := tryResolve(mk, args...)
	if err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	return got
}

func tryResolve[T any](mk func(func(*cobra.Command, *T) error) *cobra.Command, args ...string) (*T, error) {
	var got *T
	cmd := mk(func(_ *cobra.Command, o *T) error { got = o; return nil })
	cmd.SetArgs(args)
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	cmd.SilenceUsage = true
	return got, cmd.Execute()
}

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "test.yaml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// noEmpty replaces empty slices by nil: "allow_hosts: []" in a file is the default nil.
func noEmpty(ps ...*[]string) {
	for _, p := range ps {
		if len(*p) == 0 {
			*p = nil
		}
	}
}

// TestConfigFiles loads every file of configs/ through its command: the stage configs document
// the defaults (crawl.yaml also names example paths), the model presets mean what model.LoadFile
// reads.
func TestConfigFiles(t *testing.T) {
	presetCheck := func(t *testing.T, path string) {
		o := resolve(t, trainCommand, "--config", path)
		want, err := model.LoadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(o.Preset, want) {
			t.Errorf("preset %+v\nwant %+v", o.Preset, want)
		}
		if def := resolve(t, trainCommand, "--config", path, "--shards", "s").Run; def.Shards != "s" || def.CheckpointEvery != 500 || def.Steps != 0 {
			t.Errorf("run options %+v", def)
		}
	}
	checks := map[string]func(t *testing.T, path string){
		"crawl.yaml": func(t *testing.T, path string) {
			got := resolve(t, crawlCommand, "--config", path).Config
			want := resolve(t, crawlCommand).Config
			want.Seeds, want.Out, want.State = "seeds.txt", "work/pairs", "work/state"
			noEmpty(&got.AllowHosts, &got.AllowAddrs)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got  %+v\nwant %+v", got, want)
			}
		},
		"fetch.yaml": func(t *testing.T, path string) {
			got, want := resolve(t, fetchCommand, "--config", path), resolve(t, fetchCommand)
			noEmpty(&got.AllowAddrs, &got.RetryReasons)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got  %+v\nwant %+v", got, want)
			}
			// The input keys are commented out (fetch.LoadConfig has none); wit fetch takes them.
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			text, n := string(data), 0
			for _, key := range []string{"in", "url_col", "caption_col", "input_format"} {
				if strings.Contains(text, "\n# "+key+": ") {
					text, n = strings.Replace(text, "\n# "+key+": ", "\n"+key+": ", 1), n+1
				}
			}
			got = resolve(t, fetchCommand, "--config", writeConfig(t, text))
			noEmpty(&got.AllowAddrs, &got.RetryReasons)
			if n != 4 || !reflect.DeepEqual(got, want) {
				t.Errorf("%d input keys; with them: %+v", n, got)
			}
		},
		"filter.yaml": func(t *testing.T, path string) {
			got, want := resolve(t, filterCommand, "--config", path), resolve(t, filterCommand)
			noEmpty(&got.Run.ExtraCols)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got  %+v\nwant %+v", got, want)
			}
		},
		"build.yaml": func(t *testing.T, path string) {
			got, want := resolve(t, buildCommand, "--config", path), resolve(t, buildCommand)
			noEmpty(&got.Config.Crawl.AllowHosts, &got.Config.Crawl.AllowAddrs)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got  %+v\nwant %+v", got, want)
			}
		},
		"clip-tiny.yaml":  presetCheck,
		"clip-small.yaml": presetCheck,
		"vit-b-32.yaml":   presetCheck,
	}
	files, err := filepath.Glob("../../configs/*")
	if err != nil || len(files) == 0 {
		t.Fatal("no configs", err)
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			check, ok := checks[name]
			if !ok {
				t.Fatalf("configs/%s: no command in this table loads it", name)
			}
			check(t, f)
		})
	}
}

// TestPrecedence: a flag set on the command line beats the file, an unset flag does not touch it,
// and the file beats the defaults.
func TestPrecedence(t *testing.T) {
	t.Run("crawl", func(t *testing.T) {
		cfg := writeConfig(t, "workers: 5\nper_host: 3\nallow_hosts: [a.org]\n")
		def := resolve(t, crawlCommand).Config
		got := resolve(t, crawlCommand, "--config", cfg, "--workers", "7", "--allow-addr", "10.0.0.1, 10.0.0.2").Config
		if got.Workers != 7 || got.PerHost != 3 || !slices.Equal(got.AllowHosts, []string{"a.org"}) ||
			!slices.Equal(got.AllowAddrs, []string{"10.0.0.1", "10.0.0.2"}) || got.Delay != def.Delay {
			t.Errorf("%+v", got)
		}
	})
	t.Run("fetch", func(t *testing.T) {
		cfg := writeConfig(t, "size: 128\nquality: 90\nin: list.txt\nmax_bytes: 1000\n")
		got := resolve(t, fetchCommand, "--config", cfg, "--size", "48", "--max-shard-bytes", "1MiB")
		if got.Size != 48 || got.Quality != 90 || got.In != "list.txt" || got.MaxBytes != 1000 || got.MaxShardBytes != 1<<20 || got.CaptionCol != "caption" {
			t.Errorf("%+v", got)
		}
	})
	t.Run("build", func(t *testing.T) {
		cfg := writeConfig(t, "crawl:\n  delay: 1s\n  per_host: 3\nfetch:\n  size: 64\nfilter:\n  no_lexical: true\n  balance: 50\n")
		def := resolve(t, buildCommand).Config
		got := resolve(t, buildCommand, "--config", cfg, "--delay", "2s", "--seed", "9").Config
		if got.Crawl.Delay != 2*time.Second || got.Fetch.Delay != 2*time.Second || got.Crawl.PerHost != 3 ||
			got.Fetch.PerHost != def.Fetch.PerHost || got.Fetch.Size != 64 || !got.Filter.NoLexical || got.Filter.Balance != 50 ||
			got.Filter.Seed != 9 || got.Filter.Queries != "default" {
			t.Errorf("%+v", got)
		}
		got = resolve(t, buildCommand, "--config", cfg, "--per-host", "5", "--allow-private").Config
		if got.Crawl.PerHost != 5 || got.Fetch.PerHost != 5 || !got.Crawl.AllowPrivate || !got.Fetch.AllowPrivate || got.Crawl.Delay != time.Second {
			t.Errorf("%+v", got)
		}
	})
	t.Run("filter", func(t *testing.T) {
		cfg := writeConfig(t, "queries: default\nbalance: 500\nno_lexical: true\ncolumns: [a, b]\nmode: online\n")
		got := resolve(t, filterCommand, "--config", cfg, "--balance", "100", "--columns", "c")
		if got.Run.Threshold != 100 || got.Stages.Queries != "default" || !got.Stages.NoLexical || got.Run.Mode != "online" ||
			!slices.Equal(got.Run.ExtraCols, []string{"c"}) || got.Stages.Languages != "en" {
			t.Errorf("%+v", got)
		}
	})
	t.Run("train", func(t *testing.T) {
		tiny := "../../configs/clip-tiny.yaml"
		got := resolve(t, trainCommand, "--config", tiny, "--lr", "0.001", "--steps", "0", "--accum", "2")
		h := got.Preset.Train
		if h.LearningRate != 0.001 || got.Run.LR != 0.001 || h.Steps != 5000 || got.Run.Steps != 0 || h.WarmupSteps != 200 ||
			h.WeightDecay != 0.2 || got.Run.Accum != 2 || got.Preset.Model.Name != "clip-tiny" {
			t.Errorf("%+v", got)
		}
	})
}

// TestTrainSetFlags: a set hyperparameter flag overrides the preset even when it is 0 (weight
// decay, warmup, minimum rate), except the three whose 0 always meant "the preset's"; a negative
// weight decay still means none.
func TestTrainSetFlags(t *testing.T) {
	tiny := "../../configs/clip-tiny.yaml" // weight_decay 0.2, warmup 200, min lr 1e-5, steps 5000
	for _, tc := range []struct {
		args                 []string
		decay, minLR         float64
		warmup, steps, batch int64
	}{
		{nil, 0.2, 1e-5, 200, 5000, 64},
		{[]string{"--weight-decay", "0"}, 0, 1e-5, 200, 5000, 64},
		{[]string{"--weight-decay", "-1"}, 0, 1e-5, 200, 5000, 64},
		{[]string{"--weight-decay", "0.05"}, 0.05, 1e-5, 200, 5000, 64},
		{[]string{"--warmup", "0", "--min-lr", "0"}, 0.2, 0, 0, 5000, 64},
		{[]string{"--steps", "0", "--batch-size", "0", "--lr", "0"}, 0.2, 1e-5, 200, 5000, 64},
		{[]string{"--steps", "300", "--batch-size", "32"}, 0.2, 1e-5, 200, 300, 32},
	} {
		o := resolve(t, trainCommand, append([]string{"--config", tiny}, tc.args...)...)
		eff := o.Run.WithDefaults(o.Preset.Train, o.Preset.Model)
		if eff.WeightDecay != tc.decay || eff.MinLR != tc.minLR || eff.Warmup != tc.warmup || eff.Steps != tc.steps ||
			int64(eff.BatchSize) != tc.batch || eff.LR != 5e-4 {
			t.Errorf("%v: effective options %+v", tc.args, eff)
		}
	}
	cfg := writeConfig(t, "model:\n  name: x\n  embed_dim: 8\n  image_resolution: 8\n  vision_layers: 1\n  vision_width: 8\n  vision_patch_size: 4\n"+
		"  context_length: 8\n  vocab_size: 300\n  transformer_width: 8\n  transformer_heads: 1\n  transformer_layers: 1\ntrain:\n  weight_decay: -1\n")
	o := resolve(t, trainCommand, "--config", cfg)
	if eff := o.Run.WithDefaults(o.Preset.Train, o.Preset.Model); eff.WeightDecay != 0 || o.Preset.Model.VisionHeads != 1 || o.Preset.Model.Activation != model.QuickGELU {
		t.Errorf("negative decay in a preset: %+v, model %+v", eff, o.Preset.Model)
	}
	if _, err := tryResolve(trainCommand, "--config", writeConfig(t, "model:\n  name: empty\n")); err == nil || !strings.Contains(err.Error(), "test.yaml") {
		t.Errorf("invalid model accepted: %v", err)
	}
}

// TestConfigErrors: every command with --config refuses unknown keys and wrong types, naming the
// file, the line and the key.
func TestConfigErrors(t *testing.T) {
	commands := map[string]func() *cobra.Command{
		"crawl": newCrawlCmd, "fetch": newFetchCmd, "filter": newFilterCmd, "build": newBuildCmd, "train": newTrainCmd,
		"tokenizer train": newTokenizerTrainCmd, "querylist build": newQuerylistBuildCmd,
	}
	for _, tc := range []struct {
		command, file, want string
	}{
		{"crawl", "workers: 4\nper_hots: 3\n", "test.yaml:2: key per_hots: unknown key"},
		{"crawl", "workers: many\n", "test.yaml:1: key workers: cannot unmarshal !!str `many` into int"},
		{"crawl", "delay: soon\n", "test.yaml:1: key delay: cannot unmarshal !!str `soon` into time.Duration"},
		{"fetch", "sise: 3\n", "test.yaml:1: key sise: unknown key"},
		{"fetch", "local_files: maybe\n", "test.yaml:1: key local_files: cannot unmarshal"},
		{"filter", "balanse: 3\n", "test.yaml:1: key balanse: unknown key"},
		{"filter", "balance: lots\n", "test.yaml:1: key balance: cannot unmarshal"},
		{"build", "crawl:\n  per_hots: 3\n", "test.yaml:2: key crawl.per_hots: unknown key"},
		{"build", "fetch:\n  size: big\n", "test.yaml:2: key fetch.size: cannot unmarshal"},
		{"build", "filtre:\n  balance: 3\n", "test.yaml:1: key filtre: unknown key"},
		{"train", "train:\n  weight_dcay: 0\n", "test.yaml:2: key train.weight_dcay: unknown key"},
		{"train", "model:\n  embed_dim: wide\n", "test.yaml:2: key model.embed_dim: cannot unmarshal"},
		{"tokenizer train", "vocab: 300\nvocab_size: 300\n", "test.yaml:2: key vocab_size: unknown key"},
		{"querylist build", "corpus: [a.txt]\ncorpora: [b.txt]\n", "test.yaml:2: key corpora: unknown key"},
		{"querylist build", "min_pmi: high\n", "test.yaml:1: key min_pmi: cannot unmarshal"},
	} {
		cmd := commands[tc.command]()
		cmd.SetArgs([]string{"--config", writeConfig(t, tc.file)})
		cmd.SetOut(io.Discard)
		cmd.SetErr(io.Discard)
		err := cmd.Execute()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s with %q: error %v, want %q", tc.command, tc.file, err, tc.want)
		}
	}
	if _, err := tryResolve(crawlCommand, "--config", filepath.Join(t.TempDir(), "none.yaml")); err == nil || !strings.Contains(err.Error(), "none.yaml") {
		t.Errorf("missing config file: %v", err)
	}
}

// TestEveryFlagHasHelp walks every command of wit.
func TestEveryFlagHasHelp(t *testing.T) {
	var walk func(c *cobra.Command)
	n := 0
	walk = func(c *cobra.Command) {
		c.Flags().VisitAll(func(f *pflag.Flag) {
			n++
			if strings.TrimSpace(f.Usage) == "" {
				t.Errorf("%s --%s has no help", c.CommandPath(), f.Name)
			}
		})
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(rootCmd)
	if n < 100 {
		t.Errorf("only %d flags seen", n)
	}
	for _, name := range []string{"crawl", "filter", "fetch", "build", "train", "tokenizer train", "querylist build"} {
		c, _, err := rootCmd.Find(strings.Fields(name))
		if err != nil || c.Flags().Lookup("config") == nil {
			t.Errorf("wit %s has no --config (%v)", name, err)
		}
	}
}

// TestFilterStagesSame: `wit filter` and `wit build` build the same stages from the same options
// (they once differed: build had no --no-lexical), and a difference in any option shows.
func TestFilterStagesSame(t *testing.T) {
	dir := t.TempDir()
	queries := filepath.Join(dir, "queries.txt")
	if err := os.WriteFile(queries, []byte("red\nblue square\ngreen\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	filterArgs := []string{"--in", "pairs", "--out", "filtered", "--queries", queries, "--languages", "en,de",
		"--detect-languages", "en,de,fr", "--low-accuracy", "--no-lexical", "--fold-case", "--lang-cache", "10",
		"--min-chars", "3", "--min-words", "1", "--max-chars", "200", "--no-junk", "--drop-invalid-utf8"}
	section := "filter:\n  detect_languages: en,de,fr\n  low_accuracy: true\n  no_lexical: true\n  fold_case: true\n" +
		"  lang_cache: 10\n  min_chars: 3\n  min_words: 1\n  max_chars: 200\n  no_junk: true\n  drop_invalid_utf8: true\n"
	fo := resolve(t, filterCommand, filterArgs...)
	viaFilter, err := fo.options(false)
	if err != nil {
		t.Fatal(err)
	}
	build := func(section string) filter.Stages {
		o := resolve(t, buildCommand, "--config", writeConfig(t, section), "--queries", queries, "--languages", "en,de")
		st, err := o.Config.Filter.Stages(nil)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	if viaFilter.Stages.Matcher == nil || viaFilter.Stages.Language == nil || !viaFilter.Stages.DropInvalidUTF8 || viaFilter.Stages.Text.MinChars != 3 {
		t.Fatalf("filter stages %+v", viaFilter.Stages)
	}
	if diff := stagesDiff(viaFilter.Stages, build(section)); diff != "" {
		t.Errorf("wit filter and wit build stages differ: %s", diff)
	}
	if diff := stagesDiff(viaFilter.Stages, build(strings.Replace(section, "  no_lexical: true\n", "", 1))); diff == "" {
		t.Error("stages with and without the function-word pre-check compare equal: the test cannot see a difference")
	}
	if diff := stagesDiff(viaFilter.Stages, build(strings.Replace(section, "  fold_case: true\n", "", 1))); diff == "" {
		t.Error("stages with and without case folding compare equal")
	}
}

// stagesDiff says how two stage sets differ ("" when they do not): text rules, UTF-8 handling,
// the query list (entries and match options: a matcher's hash seed is random), the language
// filter (field by field), and the verdicts on a few captions.
func stagesDiff(a, b filter.Stages) string {
	if a.Text != b.Text || a.DropInvalidUTF8 != b.DropInvalidUTF8 {
		return fmt.Sprintf("text %+v/%v vs %+v/%v", a.Text, a.DropInvalidUTF8, b.Text, b.DropInvalidUTF8)
	}
	ma, mb := a.Matcher.(*querymatch.Matcher), b.Matcher.(*querymatch.Matcher)
	if ma.Len() != mb.Len() || ma.Options() != mb.Options() {
		return fmt.Sprintf("query lists of %d and %d entries, options %+v and %+v", ma.Len(), mb.Len(), ma.Options(), mb.Options())
	}
	for id := range int32(ma.Len()) {
		if ma.Entry(id) != mb.Entry(id) {
			return fmt.Sprintf("entry %d: %q vs %q", id, ma.Entry(id), mb.Entry(id))
		}
	}
	if !reflect.DeepEqual(a.Language, b.Language) {
		return "language filters differ"
	}
	for _, c := range []string{"a Red car", "IMG_1234.JPG", "ein blaues Quadrat auf Rot", "the blue square", "x"} {
		va, vb := a.Evaluate(c, nil), b.Evaluate(c, nil)
		if !reflect.DeepEqual(va, vb) {
			return fmt.Sprintf("%q: %+v vs %+v", c, va, vb)
		}
	}
	return ""
}

// TestFilterBalanceNeedsQueries: without a query list the default threshold is dropped, an asked
// one is an error.
func TestFilterBalanceNeedsQueries(t *testing.T) {
	for _, tc := range []struct {
		args []string
		ok   bool
	}{
		{[]string{"--no-language"}, true},
		{[]string{"--no-language", "--balance", "0"}, true},
		{[]string{"--no-language", "--balance", "100"}, false},
		{[]string{"--no-language", "--config", writeConfig(t, "balance: 100\n")}, false},
		{[]string{"--in", ""}, false},
	} {
		o := resolve(t, filterCommand, append([]string{"--in", "p", "--out", "o"}, tc.args...)...)
		opts, err := o.options(slices.Contains(tc.args, "--balance"))
		if (err == nil) != tc.ok || err == nil && opts.Threshold != 0 {
			t.Errorf("%v: %v, threshold %d", tc.args, err, opts.Threshold)
		}
	}
}
