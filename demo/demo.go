package demo

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/witdata/wit/build"
	"github.com/witdata/wit/eval"
	"github.com/witdata/wit/filter"
	"github.com/witdata/wit/inference"
	"github.com/witdata/wit/internal/atomicfile"
	"github.com/witdata/wit/model"
	"github.com/witdata/wit/shards"
	"github.com/witdata/wit/train"
)

// clipTinyYAML is the demo's copy of configs/clip-tiny.yaml (a test keeps them equal), so that
// the wit binary runs the demo from any directory.
//
//go:embed clip-tiny.yaml
var clipTinyYAML []byte

// Layout of the demo's output directory.
const (
	DataDir     = "data"           // wit build's output: shards/, state/, build-stats.json
	TrainDir    = "train-shards"   // the training style's samples
	HeldOutDir  = "heldout-shards" // the held-out style's samples: never trained on
	RunDir      = "run"            // the training run: checkpoints, metrics.jsonl, loss.png
	ReportFile  = "demo-report.json"
	SeedsFile   = "seeds.txt"
	markerFile  = ".wit-demo"
	defaultTime = 4 * time.Minute
)

// Options configures Run.
type Options struct {
	Out        string         // output directory (default "wit-demo"); replaced if it holds an earlier demo
	Concepts   int            // concepts the site serves (0: all 300)
	Queries    string         // query list for the filter: "default" (embedded list) or a file
	Balance    int            // balancing t (online); small, so that the site's head entries are damped
	NoTrain    bool           // stop after building the shards
	TrainTime  time.Duration  // training time budget (default 4 minutes)
	TrainSteps int64          // optimizer steps (0: derived from TrainTime, see Run)
	BatchSize  int            // pairs per step (0: the preset's)
	Preset     *model.File    // model preset (nil: the embedded clip-tiny)
	Stages     *filter.Stages // filter stages (nil: built from Queries, English kept)
	Site       *Site          // the site to serve (nil: NewSite(Concepts)); tests read its hit counts
	Stdout     io.Writer      // the report (nil: os.Stdout)
	Logger     *slog.Logger
	Progress   func(build.Stats) // build progress (nil: none)
	BuildDone  func()            // called when the build is over (clears a progress line)
}

// Report is what the demo found, also written as JSON to Out/demo-report.json.
type Report struct {
	Out        string      `json:"out"`
	SiteURL    string      `json:"site_url"`
	Concepts   int         `json:"concepts"`
	Build      build.Stats `json:"build"`
	BuildS     float64     `json:"build_s"`
	TrainPairs int64       `json:"train_pairs"`   // samples of the training style
	HeldOut    int64       `json:"heldout_pairs"` // samples of the held-out style
	// ForeignKept counts samples from the French and German pages: captions the language filter
	// took for English (short names such as "chat qui sourit" or "Copyright").
	ForeignKept int64       `json:"foreign_kept"`
	Train       *TrainInfo  `json:"train,omitempty"`
	Eval        *EvalInfo   `json:"eval,omitempty"`
	DurationS   float64     `json:"duration_s"`
	Outputs     [][2]string `json:"outputs"` // (what, where)
	// ViewCommand is the `wit view` command that shows the shards in a browser (with search when a
	// model was trained).
	ViewCommand string `json:"view_command"`
}

// TrainInfo summarises the training run.
type TrainInfo struct {
	Steps      int64   `json:"steps"`
	Samples    int64   `json:"samples"`
	FirstLoss  float64 `json:"first_loss"`
	LastLoss   float64 `json:"last_loss"`
	Seconds    float64 `json:"seconds"`
	Checkpoint string  `json:"checkpoint"`
	StoppedBy  string  `json:"stopped_by"` // "steps" or "time"
}

// EvalInfo holds the evaluation on held-out images: the style never trained on, and for
// comparison the training style's images.
type EvalInfo struct {
	HeldOutRetrieval *eval.RetrievalResult `json:"heldout_retrieval"`
	SeenRetrieval    *eval.RetrievalResult `json:"seen_style_retrieval"`
	ZeroShot         *eval.ZeroShotResult  `json:"heldout_zeroshot"`
	ZeroShotClasses  []string              `json:"zeroshot_classes"`
	Seconds          float64               `json:"seconds"`
}

// DefaultPreset returns the embedded clip-tiny preset.
func DefaultPreset() (model.File, error) { return model.ParseFile(clipTinyYAML) }

// Serve starts the site on a random port of 127.0.0.1. Close the server when done.
func Serve(site *Site) (*http.Server, string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", fmt.Errorf("demo site: %w", err)
	}
	srv := &http.Server{Handler: site, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return srv, "http://" + ln.Addr().String(), nil
}

// prepareOut makes an empty output directory, replacing an earlier demo's; it refuses to touch a
// non-empty directory that is not a demo's.
func prepareOut(out string) error {
	entries, err := os.ReadDir(out)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return fmt.Errorf("demo: %w", err)
	case len(entries) > 0:
		if _, err := os.Stat(filepath.Join(out, markerFile)); err != nil {
			return fmt.Errorf("demo: %s exists and is not an earlier demo's output: choose another --out", out)
		}
		// The site runs on a new port every time, so an earlier demo's state cannot be resumed.
		if err := os.RemoveAll(out); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	return os.WriteFile(filepath.Join(out, markerFile), []byte("output of wit demo; replaced by the next run\n"), 0o644)
}

// Run serves the site, builds the data set from it, trains, evaluates and prints the report.
func Run(ctx context.Context, opts Options) (*Report, error) {
	start := time.Now()
	if opts.Out == "" {
		opts.Out = "wit-demo"
	}
	if opts.Queries == "" {
		opts.Queries = "default"
	}
	if opts.Balance == 0 {
		opts.Balance = 40
	}
	if opts.TrainTime <= 0 {
		opts.TrainTime = defaultTime
	}
	if opts.Stdout == nil {
		opts.Stdout = os.Stdout
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	log := opts.Logger
	if err := prepareOut(opts.Out); err != nil {
		return nil, err
	}
	site := opts.Site
	if site == nil {
		var err error
		if site, err = NewSite(opts.Concepts); err != nil {
			return nil, err
		}
	}
	srv, base, err := Serve(site)
	if err != nil {
		return nil, err
	}
	defer srv.Close()
	rep := &Report{Out: opts.Out, SiteURL: base, Concepts: len(site.SiteConcepts())}
	fmt.Fprintf(opts.Stdout, "wit demo: serving %d emoji concepts (English, French, German pages) at %s\n", rep.Concepts, base)

	// 1. crawl -> filter -> fetch.
	seeds := filepath.Join(opts.Out, SeedsFile)
	if err := os.WriteFile(seeds, []byte("# the demo site, served by wit demo\n"+base+"/\n"), 0o644); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	cfg := build.DefaultConfig()
	cfg.Seeds, cfg.Out = seeds, filepath.Join(opts.Out, DataDir)
	cfg.SetNetwork(true, 0, 8) // the site is on loopback, and ours
	cfg.Crawl.MaxDepth = -1
	cfg.Crawl.Workers = 8
	cfg.Fetch.Workers = 8
	cfg.Fetch.Size = 64 // the images are 64 px; the model reads 48
	cfg.Fetch.Retries = 0
	cfg.Fetch.Timeout = 10 * time.Second
	cfg.Filter.Queries = opts.Queries
	cfg.Filter.Balance = opts.Balance
	cfg.Stages = opts.Stages
	cfg.Logger = log
	cfg.Progress = opts.Progress
	fmt.Fprintln(opts.Stdout, "wit demo: crawl -> filter -> fetch ...")
	bst, err := build.Run(ctx, cfg)
	if opts.BuildDone != nil {
		opts.BuildDone()
	}
	rep.Build, rep.BuildS = bst, time.Since(start).Seconds()
	if err != nil {
		return rep, fmt.Errorf("demo: build: %w", err)
	}
	rep.Outputs = append(rep.Outputs, [2]string{"seed list", seeds}, [2]string{"image shards (all)", bst.Shards},
		[2]string{"build stats", filepath.Join(cfg.Out, build.StatsFile)}, [2]string{"pipeline state", filepath.Join(cfg.Out, "state")})
	rep.ViewCommand = "wit view " + shellArg(bst.Shards)

	// 2. Hold one style out.
	trainDir, heldDir := filepath.Join(opts.Out, TrainDir), filepath.Join(opts.Out, HeldOutDir)
	if rep.TrainPairs, rep.HeldOut, rep.ForeignKept, err = splitByStyle(ctx, bst.Shards, trainDir, heldDir); err != nil {
		return rep, err
	}
	rep.Outputs = append(rep.Outputs, [2]string{"training shards (" + TrainStyle + " style)", trainDir},
		[2]string{"held-out shards (" + HeldOutStyle + " style, never trained on)", heldDir})
	if opts.NoTrain || rep.TrainPairs < 2 {
		if !opts.NoTrain {
			log.Warn("demo: too few training pairs to train", "pairs", rep.TrainPairs)
		}
		return finish(rep, start, opts)
	}

	// 3. Train.
	preset := opts.Preset
	if preset == nil {
		p, err := DefaultPreset()
		if err != nil {
			return rep, err
		}
		preset = &p
	}
	runDir := filepath.Join(opts.Out, RunDir)
	ti, err := trainModel(ctx, *preset, trainDir, runDir, opts, log)
	rep.Train = ti
	if err != nil {
		return rep, fmt.Errorf("demo: train: %w", err)
	}
	rep.Outputs = append(rep.Outputs, [2]string{"training run (metrics.jsonl, loss.png, checkpoints)", runDir})
	rep.ViewCommand += " --checkpoint " + shellArg(runDir)

	// 4. Evaluate.
	ev, err := evaluate(ctx, runDir, trainDir, heldDir, site.SiteConcepts())
	if err != nil {
		return rep, fmt.Errorf("demo: eval: %w", err)
	}
	rep.Eval = ev
	return finish(rep, start, opts)
}

func finish(rep *Report, start time.Time, opts Options) (*Report, error) {
	rep.DurationS = time.Since(start).Seconds()
	path := filepath.Join(opts.Out, ReportFile)
	rep.Outputs = append(rep.Outputs, [2]string{"this report as JSON", path})
	if err := atomicfile.WriteJSON(path, rep); err != nil {
		return rep, err
	}
	rep.Print(opts.Stdout)
	return rep, nil
}

// styleOf returns the image style folder and the concept hex of a site image URL.
func styleOf(url string) (style, hex string) {
	i := strings.Index(url, "/img/")
	if i < 0 {
		return "", ""
	}
	parts := strings.Split(url[i+len("/img/"):], "/")
	if len(parts) != 2 {
		return "", ""
	}
	return parts[0], strings.TrimSuffix(parts[1], ".png")
}

// splitByStyle copies the samples of src into a training directory (TrainStyle) and a held-out
// directory (HeldOutStyle), re-keyed, with manifests. foreign counts samples from the French
// and German pages.
func splitByStyle(ctx context.Context, src, trainDir, heldDir string) (nTrain, nHeld, foreign int64, err error) {
	newW := func(dir string) (*shards.Writer, error) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		return shards.NewWriter(dir, shards.SampleSchema, shards.WriterOptions{Metadata: shards.SampleMetadata()})
	}
	tw, err := newW(trainDir)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("demo: split: %w", err)
	}
	hw, err := newW(heldDir)
	if err != nil {
		tw.Abort()
		return 0, 0, 0, fmt.Errorf("demo: split: %w", err)
	}
	fail := func(e error) (int64, int64, int64, error) {
		tw.Abort()
		hw.Abort()
		return 0, 0, 0, fmt.Errorf("demo: split: %w", e)
	}
	for rec, err := range shards.ReadDir(ctx, src, nil) {
		if err != nil {
			return fail(err)
		}
		for i := range int(rec.NumRows()) {
			s, err := shards.SampleAt(rec, i)
			if err != nil {
				return fail(err)
			}
			if strings.Contains(s.PageURL, "/fr/") || strings.Contains(s.PageURL, "/de/") {
				foreign++
			}
			style, _ := styleOf(s.URL)
			w, n := tw, &nTrain
			if style == HeldOutStyle {
				w, n = hw, &nHeld
			}
			s.Key = shards.SampleKey(int(*n/10000), int(*n%10000))
			shards.AppendSample(w.Builder(), s)
			if err := w.EndRow(); err != nil {
				return fail(err)
			}
			*n++
		}
	}
	if err := tw.Close(); err != nil {
		return fail(err)
	}
	if err := hw.Close(); err != nil {
		return 0, 0, 0, fmt.Errorf("demo: split: %w", err)
	}
	for _, dir := range []string{trainDir, heldDir} {
		m, err := shards.BuildManifest(dir)
		if err == nil {
			err = shards.WriteManifest(dir, m)
		}
		if err != nil {
			return 0, 0, 0, fmt.Errorf("demo: split: %w", err)
		}
	}
	return nTrain, nHeld, foreign, nil
}

// The demo's training augmentation (scripts/emoji-experiment.sh's defaults).
const (
	demoCropScaleMin = 0.5
	demoColorJitter  = 0.4
	demoGrayScale    = 0.2
)

// calibrationSteps are the steps run before the schedule is sized to the time budget.
const calibrationSteps = 4

// trainModel trains for opts.TrainSteps steps, or, without them, for as many steps as fit
// opts.TrainTime: a first run takes calibrationSteps steps (inside the warmup, whose learning
// rates do not depend on the total) to measure the pace on this machine, then the run resumes
// exactly from its checkpoint with the step count that fits the rest of the budget, so the
// cosine schedule decays to its end. A hard deadline (the budget plus a margin) stops a run that
// is slower than measured; the trainer checkpoints when stopped.
func trainModel(ctx context.Context, preset model.File, shardsDir, runDir string, opts Options, log *slog.Logger) (*TrainInfo, error) {
	info := &TrainInfo{StoppedBy: "steps"}
	t0 := time.Now()
	hard, cancelHard := context.WithDeadline(ctx, t0.Add(opts.TrainTime+opts.TrainTime/10))
	defer cancelHard()
	var stepTimes []time.Time
	var planned int64
	lastLog := time.Now()
	onStep := func(s train.StepInfo) {
		if info.FirstLoss == 0 {
			info.FirstLoss = s.Loss
		}
		stepTimes = append(stepTimes, time.Now())
		if time.Since(lastLog) > 15*time.Second {
			lastLog = time.Now()
			log.Info("demo: training", "step", s.Step, "of", planned, "loss", fmt.Sprintf("%.3f", s.Loss))
		}
	}
	// The augmentation the emoji experiment chose on its validation split (docs/EXPERIMENT.md): with
	// the faster kernels the 4 minutes are tens of epochs of a few hundred images, which a plain
	// crop only memorises.
	o := train.Options{Shards: shardsDir, Out: runDir, BatchSize: opts.BatchSize, CheckpointEvery: 1 << 30, Keep: 1,
		LogEvery: 5, ShuffleBuffer: 1024, NoProgress: true,
		CropScaleMin: demoCropScaleMin, ColorJitter: demoColorJitter, GrayScale: demoGrayScale}
	run := func(tctx context.Context, o train.Options, resume bool) (*train.Result, error) {
		tr := &train.Trainer{Preset: preset, Options: o, Resume: resume, OnStep: onStep}
		res, err := tr.Train(tctx)
		if res != nil {
			info.Steps, info.Samples, info.LastLoss, info.Checkpoint = res.Steps, res.Samples, res.LastLoss, res.Checkpoint
		}
		return res, err
	}
	finish := func(err error) (*TrainInfo, error) {
		info.Seconds = time.Since(t0).Seconds()
		if err != nil && errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil && info.Checkpoint != "" {
			info.StoppedBy, err = "time", nil
		}
		return info, err
	}

	if opts.TrainSteps > 0 {
		planned = opts.TrainSteps
		o.Steps, o.Warmup = planned, max(1, planned/10)
		fmt.Fprintf(opts.Stdout, "wit demo: training %s for %d steps (at most %s) ...\n", preset.Model.Name, planned, opts.TrainTime)
		_, err := run(hard, o, false)
		return finish(err)
	}

	// 1. Calibrate: a few warmup steps of a long schedule, stopped by cancelling.
	const warmup = 10
	o.Steps, o.Warmup = 1_000_000, warmup
	planned = calibrationSteps
	fmt.Fprintf(opts.Stdout, "wit demo: training %s for %s (measuring the pace over %d steps first) ...\n", preset.Model.Name, opts.TrainTime, calibrationSteps)
	calib, stop := context.WithCancel(hard)
	o1 := o
	onStep1 := onStep
	onStep = func(s train.StepInfo) {
		onStep1(s)
		if s.Step >= calibrationSteps {
			stop()
		}
	}
	_, err := run(calib, o1, false)
	stop()
	onStep = onStep1
	if err != nil && !errors.Is(err, context.Canceled) || ctx.Err() != nil {
		return finish(err)
	}
	if len(stepTimes) < calibrationSteps || hard.Err() != nil {
		return finish(hard.Err())
	}
	// The first step includes compiling the graphs; the pace comes from the others. The resumed
	// run compiles again, so that overhead is set aside too.
	pace := stepTimes[calibrationSteps-1].Sub(stepTimes[0]) / (calibrationSteps - 1)
	overhead := max(0, stepTimes[0].Sub(t0)-pace)
	left := opts.TrainTime - time.Since(t0) - overhead
	planned = int64(calibrationSteps) + max(1, int64(left/max(pace, time.Millisecond)))
	log.Info("demo: training pace measured", "per_step", pace.Round(time.Millisecond), "compile", overhead.Round(time.Millisecond), "steps", planned)
	fmt.Fprintf(opts.Stdout, "wit demo: %s per step on this machine: training %d steps in all\n", pace.Round(10*time.Millisecond), planned)

	// 2. Resume exactly, with the schedule stretched to the steps that fit.
	o.Steps = planned
	_, err = run(hard, o, true)
	return finish(err)
}

// evalSet is one image per concept of a shard directory, with the concept's index.
func evalSet(ctx context.Context, dir string, index map[string]int) (images [][]byte, concepts []int, err error) {
	seen := map[int]bool{}
	for rec, err := range shards.ReadDir(ctx, dir, []string{shards.ColImage, shards.ColURL}) {
		if err != nil {
			return nil, nil, err
		}
		cols, err := shards.NewSampleColumns(rec)
		if err != nil {
			return nil, nil, err
		}
		for i := range cols.Len() {
			s := cols.Sample(i)
			_, hex := styleOf(s.URL)
			c, ok := index[hex]
			if !ok || seen[c] {
				continue
			}
			seen[c] = true
			images = append(images, s.Image)
			concepts = append(concepts, c)
		}
	}
	return images, concepts, nil
}

// evaluate embeds one image per concept of each style and the concept names, and scores
// text↔image retrieval (concept names as the texts) and zero-shot classification into the
// emoji groups with prompt ensembling.
func evaluate(ctx context.Context, runDir, trainDir, heldDir string, concepts []Concept) (*EvalInfo, error) {
	t0 := time.Now()
	emb, err := inference.LoadCheckpoint(runDir)
	if err != nil {
		return nil, err
	}
	index := map[string]int{}
	names := make([]string, len(concepts))
	for i, c := range concepts {
		index[c.Hex], names[i] = i, c.Name
	}
	textRows, err := emb.EmbedTexts(names)
	if err != nil {
		return nil, err
	}
	texts, err := eval.MatrixFromRows(textRows)
	if err != nil {
		return nil, err
	}
	ev := &EvalInfo{}
	retrieval := func(dir string) (*eval.RetrievalResult, *eval.Matrix, []int, error) {
		imgs, cs, err := evalSet(ctx, dir, index)
		if err != nil || len(imgs) == 0 {
			return nil, nil, nil, errors.Join(err, fmt.Errorf("no images in %s", dir))
		}
		rows, err := emb.EmbedImages(imgs)
		if err != nil {
			return nil, nil, nil, err
		}
		var kept [][]float32
		var links []eval.Link
		var keptCs []int
		for i, r := range rows {
			if r == nil {
				continue // undecodable: counted out
			}
			links = append(links, eval.Link{Image: len(kept), Text: cs[i]})
			kept = append(kept, r)
			keptCs = append(keptCs, cs[i])
		}
		m, err := eval.MatrixFromRows(kept)
		if err != nil {
			return nil, nil, nil, err
		}
		res, err := eval.Retrieval(ctx, m, texts, links, eval.DefaultRecallKs)
		return res, m, keptCs, err
	}
	var heldImgs *eval.Matrix
	var heldCs []int
	if ev.HeldOutRetrieval, heldImgs, heldCs, err = retrieval(heldDir); err != nil {
		return nil, fmt.Errorf("held-out retrieval: %w", err)
	}
	if ev.SeenRetrieval, _, _, err = retrieval(trainDir); err != nil {
		return nil, fmt.Errorf("seen-style retrieval: %w", err)
	}

	// Zero-shot over the groups present.
	var groups []string
	for _, c := range concepts {
		if !slices.Contains(groups, c.Group) {
			groups = append(groups, c.Group)
		}
	}
	slices.Sort(groups)
	classNames := make([]string, len(groups))
	for i, g := range groups {
		classNames[i] = GroupNames[g]
		if classNames[i] == "" {
			classNames[i] = strings.ReplaceAll(g, "-", " ")
		}
	}
	prompts, err := emb.EmbedTexts(eval.Prompts(classNames, eval.EmojiTemplates))
	if err != nil {
		return nil, err
	}
	pm, err := eval.MatrixFromRows(prompts)
	if err != nil {
		return nil, err
	}
	weights, err := eval.ClassWeights(pm, len(classNames), len(eval.EmojiTemplates))
	if err != nil {
		return nil, err
	}
	labels := make([]int, len(heldCs))
	for i, c := range heldCs {
		labels[i] = slices.Index(groups, concepts[c].Group)
	}
	if ev.ZeroShot, err = eval.ZeroShot(ctx, heldImgs, weights, labels, classNames, eval.DefaultAccuracyKs); err != nil {
		return nil, err
	}
	ev.ZeroShotClasses = classNames
	ev.Seconds = time.Since(t0).Seconds()
	return ev, nil
}

// Print writes the human report.
func (r *Report) Print(w io.Writer) {
	b := r.Build
	fmt.Fprintf(w, "\n== wit demo: what it found (%s in all)\n", time.Duration(r.DurationS*float64(time.Second)).Round(time.Second))
	fmt.Fprintf(w, "site: %d concepts, English, French and German pages, at %s\n", r.Concepts, r.SiteURL)
	c := b.Crawl
	fmt.Fprintf(w, "crawl: %d pages ok, %d failed (%d blocked by robots.txt), %d pairs found; by caption source: %s\n",
		c.PagesOK, c.Failed(), c.RobotsBlocked, c.Pairs, counts(c.PairsBySource))
	if f := b.Filter; f != nil {
		fmt.Fprintf(w, "filter: %d pairs kept of %d; dropped:", f.Kept, f.Rows)
		for _, reason := range filter.AllReasons {
			if n := f.Dropped[reason]; n > 0 {
				fmt.Fprintf(w, " %s %d,", reason, n)
			}
		}
		fmt.Fprintf(w, "\n        caption languages seen by the language stage: %s\n", counts(f.Languages))
		fmt.Fprintf(w, "        pairs from the French and German pages still kept (taken for English): %d\n", r.ForeignKept)
	}
	ft := b.Fetch
	fmt.Fprintf(w, "fetch: %d images ok, %d failed (%s); %d samples in %d shard(s)\n",
		ft.Successes, ft.Failed, counts(ft.Failures), ft.DatasetCount, ft.DatasetShards)
	fmt.Fprintf(w, "split: %d training pairs (%s style), %d held-out pairs (%s style, never trained on)\n",
		r.TrainPairs, TrainStyle, r.HeldOut, HeldOutStyle)
	fmt.Fprintf(w, "build time: %.1fs\n", r.BuildS)
	if t := r.Train; t != nil {
		fmt.Fprintf(w, "train: %d steps, %d samples in %.0fs (stopped by %s); loss %.3f -> %.3f\n",
			t.Steps, t.Samples, t.Seconds, t.StoppedBy, t.FirstLoss, t.LastLoss)
	}
	if e := r.Eval; e != nil {
		pr := func(label string, res *eval.RetrievalResult) {
			d := res.TextToImage
			fmt.Fprintf(w, "%s text->image among %d: ", label, d.Candidates)
			for _, a := range d.AtK {
				fmt.Fprintf(w, "R@%d %.1f%% (chance %.1f%%)  ", a.K, 100*a.Recall, 100*a.Chance)
			}
			fmt.Fprintln(w)
			d = res.ImageToText
			fmt.Fprintf(w, "%s image->text among %d: ", label, d.Candidates)
			for _, a := range d.AtK {
				fmt.Fprintf(w, "R@%d %.1f%% (chance %.1f%%)  ", a.K, 100*a.Recall, 100*a.Chance)
			}
			fmt.Fprintln(w)
		}
		pr("held-out style  ", e.HeldOutRetrieval)
		pr("training style  ", e.SeenRetrieval)
		z := e.ZeroShot
		fmt.Fprintf(w, "zero-shot over %d emoji groups, held-out style (%d images): ", z.Classes, z.Images)
		for _, a := range z.AtK {
			fmt.Fprintf(w, "top-%d %.1f%% (chance %.1f%%, majority %.1f%%)  ", a.K, 100*a.Accuracy, 100*a.Chance, 100*a.Majority)
		}
		fmt.Fprintf(w, "balanced top-1 %.1f%% (chance %.1f%%)\n", 100*z.BalancedTop1, 100/float64(max(1, z.Classes)))
	}
	fmt.Fprintln(w, "outputs:")
	for _, o := range r.Outputs {
		fmt.Fprintf(w, "  %-62s %s\n", o[0], o[1])
	}
	if r.ViewCommand != "" {
		fmt.Fprintf(w, "look at the data in a browser (samples, stats, search):\n  %s\n", r.ViewCommand)
	}
}

// shellArg quotes a path for a shell when it holds anything but letters, digits and /._-.
func shellArg(s string) string {
	if strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func counts[K ~string](m map[K]int64) string {
	keys := make([]K, 0, len(m))
	for k, v := range m {
		if v > 0 {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return "none"
	}
	slices.SortFunc(keys, func(a, b K) int {
		if m[a] != m[b] {
			return int(m[b] - m[a])
		}
		return strings.Compare(string(a), string(b))
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}
