package train

import (
	"bufio"
	"bytes"
	stdctx "context"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/witdata/wit/inference"
	"github.com/witdata/wit/internal/gomlxfix"
	"github.com/witdata/wit/internal/parprof"
	"github.com/witdata/wit/internal/procstat"
	"github.com/witdata/wit/model"
	"github.com/witdata/wit/shards"
	"github.com/witdata/wit/tokenizer"
	"github.com/witdata/wit/train/optim"
)

// benchShards writes n image samples of side px as JPEG q90 (what fetch stores: imgproc's default
// is 256 px). With ../shared present the pictures are the emoji set's PNGs composited on white and
// upscaled, with their CLDR names as captions; without it, synthetic shapes.
func benchShards(b *testing.B, n, px int) (dir string, captions []string) {
	b.Helper()
	dir = b.TempDir()
	w, err := shards.NewWriter(dir, shards.SampleSchema, shards.WriterOptions{RowsPerFile: 256, FirstIndex: 0, Metadata: shards.SampleMetadata()})
	if err != nil {
		b.Fatal(err)
	}
	srcs, names := emojiSources(n)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range n {
		var jpg []byte
		var caption string
		if len(srcs) > 0 {
			src := srcs[i%len(srcs)]
			dst := image.NewRGBA(image.Rect(0, 0, px, px))
			draw.Draw(dst, dst.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
			sb := src.Bounds()
			for y := range px { // nearest upscale, alpha over white
				for x := range px {
					c := color.NRGBAModel.Convert(src.At(sb.Min.X+x*sb.Dx()/px, sb.Min.Y+y*sb.Dy()/px)).(color.NRGBA)
					a := int(c.A)
					dst.SetRGBA(x, y, color.RGBA{uint8((int(c.R)*a + 255*(255-a)) / 255), uint8((int(c.G)*a + 255*(255-a)) / 255), uint8((int(c.B)*a + 255*(255-a)) / 255), 255})
				}
			}
			var buf bytes.Buffer
			_ = jpeg.Encode(&buf, dst, &jpeg.Options{Quality: 90})
			jpg, caption = buf.Bytes(), names[i%len(names)]
		} else {
			jpg, caption = synthPair(i, px, rng)
		}
		captions = append(captions, caption)
		shards.AppendSample(w.Builder(), &shards.Sample{Key: shards.SampleKey(i/256, i%256), Image: jpg, Caption: caption})
		if err := w.EndRow(); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	return dir, captions
}

// emojiSources loads up to n emoji PNGs (noto style) and their names from ../shared, if present.
func emojiSources(n int) ([]image.Image, []string) {
	root := "../../shared/data/emoji"
	f, err := os.Open(filepath.Join(root, "concepts.tsv"))
	if err != nil {
		return nil, nil
	}
	defer f.Close()
	var imgs []image.Image
	var names []string
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() && len(imgs) < n {
		cols := strings.Split(sc.Text(), "\t")
		if len(cols) < 3 {
			continue
		}
		data, err := os.ReadFile(filepath.Join(root, "noto", cols[0]+".png"))
		if err != nil {
			continue
		}
		img, err := inference.DecodeImage(data, 0)
		if err != nil {
			continue
		}
		imgs = append(imgs, img)
		names = append(names, cols[2])
	}
	return imgs, names
}

// stepCPUPerSample carries the step's CPU seconds per pair to the loader benchmark.
var stepCPUPerSample float64

// stepSamplesPerSec carries the step's samples/s from the step benchmark to the loader's.
var stepSamplesPerSec float64

// BenchmarkTrain measures, in one process, the backend's bare matmul, one clip-tiny training step
// at batch 64 (the trainer's graph: forward, backward, AdamW, clamp), and the loader alone feeding
// batches of 64 at clip-tiny's 48 px from 256 px JPEG shards:
//
//	go test ./train -run - -bench Train -benchtime 3x
//
// step: GFLOP/s (model.TrainFLOPs: matrix products only), of_matmul, parallelism (the mean number
// of running goroutines in an execution trace of 3 more steps: CPU ÷ wall on an idle machine,
// whatever the load; the log lists the ops that left cores idle); loader: samples/s and
// x_step (loader samples/s ÷ step samples/s, must be ≥ 5). peak_RSS_MB is the process high-water mark.
func BenchmarkTrain(b *testing.B) {
	f, err := model.LoadFile("../configs/clip-tiny.yaml")
	if err != nil {
		b.Fatal(err)
	}
	cfg, batch := f.Model, 64
	be := gomlxfix.MustBackend()
	var matmul float64
	b.Run("matmul1024", func(b *testing.B) { matmul = benchMatMul(b, be, 1024) })
	b.Run("step-clip-tiny-b64", func(b *testing.B) {
		m, _ := model.New(cfg)
		sched := optim.CosineWarmup{Peak: 5e-4, Warmup: 10, Total: 1000}
		opt, _ := optim.NewAdamW(optim.AdamWConfig{LR: &sched, Beta1: 0.9, Beta2: 0.98, Epsilon: 1e-6, WeightDecay: 0.2})
		vars := context.New()
		_ = vars.SetRNGStateFromSeed(1)
		st, err := newStepper(be, vars, m, opt, 1)
		if err != nil {
			b.Fatal(err)
		}
		r, l := cfg.ImageResolution, cfg.ContextLength
		rng := rand.New(rand.NewPCG(1, 1))
		img := make([]float32, batch*r*r*3)
		for i := range img {
			img[i] = float32(rng.NormFloat64())
		}
		tok := make([]int32, batch*l)
		for i := range batch {
			tok[i*l], tok[i*l+1], tok[i*l+2] = int32(cfg.VocabSize-2), int32(1+i), int32(cfg.VocabSize-1)
		}
		images, tokens := tensors.FromFlatDataAndDimensions(img, batch, r, r, 3), tensors.FromFlatDataAndDimensions(tok, batch, l)
		if _, _, err := st.micro(images, tokens); err != nil { // compile + initialise outside the timer
			b.Fatal(err)
		}
		b.ResetTimer()
		cpu0 := procstat.CPUTime()
		for b.Loop() {
			if _, _, err := st.micro(images, tokens); err != nil {
				b.Fatal(err)
			}
		}
		cpuStep := (procstat.CPUTime() - cpu0).Seconds() / float64(b.N)
		stepCPUPerSample = cpuStep / float64(batch)
		b.ReportMetric(cpuStep, "cpu_s/step")
		sec := b.Elapsed().Seconds() / float64(b.N)
		gflops := float64(cfg.TrainFLOPs(batch)) / sec / 1e9
		stepSamplesPerSec = float64(batch) / sec
		b.ReportMetric(sec, "s/step")
		b.ReportMetric(stepSamplesPerSec, "samples/s")
		b.ReportMetric(gflops, "GFLOP/s")
		if matmul > 0 {
			b.ReportMetric(gflops/matmul, "of_matmul")
		}
		b.ReportMetric(procstat.PeakRSSMB(), "peak_RSS_MB")
		parprof.ReportBench(b, 3, func() {
			if _, _, err := st.micro(images, tokens); err != nil {
				b.Fatal(err)
			}
		})
	})
	b.Run("loader-clip-tiny-b64", func(b *testing.B) { benchLoader(b, cfg, batch, LoaderOptions{}) })
	// The emoji experiment's augmentation (scripts/emoji-experiment.sh): what the loader costs
	// with every random transform on.
	b.Run("loader-clip-tiny-b64-augmented", func(b *testing.B) { benchLoader(b, cfg, batch, experimentAugmentation) })
}

// experimentAugmentation is scripts/emoji-experiment.sh's: crop 0.5–1, jitter 0.4, greyscale 0.2,
// zoom-out 0.5 (down to half the side), outline 0.3.
var experimentAugmentation = LoaderOptions{ScaleMin: 0.5, ScaleMax: CropScaleMax, Jitter: Jitter{Strength: 0.4, Gray: 0.2},
	ZoomOut: ZoomOut{Prob: 0.5, Min: 0.5}, Outline: Outline{Prob: 0.3}}

// BenchmarkLoader is the loader alone (see BenchmarkTrain).
func BenchmarkLoader(b *testing.B) {
	f, err := model.LoadFile("../configs/clip-tiny.yaml")
	if err != nil {
		b.Fatal(err)
	}
	benchLoader(b, f.Model, 64, LoaderOptions{})
}

// benchLoader measures the loader with aug's augmentation fields (ScaleMin/Max, Jitter, ZoomOut,
// Outline; zero: the trainer's defaults).
func benchLoader(b *testing.B, cfg model.Config, batch int, aug LoaderOptions) {
	dir, caps := benchShards(b, 1024, 256)
	tok, err := tokenizer.Train(caps, tokenizer.TrainOptions{VocabSize: min(2048, cfg.VocabSize)})
	if err != nil {
		b.Fatal(err)
	}
	l, err := NewLoader(LoaderOptions{Shards: dir, Resolution: cfg.ImageResolution, ContextLength: cfg.ContextLength,
		BatchSize: batch, Workers: runtime.NumCPU(), ShuffleBuffer: 1024, Seed: 1, Epochs: -1,
		ScaleMin: aug.ScaleMin, ScaleMax: aug.ScaleMax, Jitter: aug.Jitter, ZoomOut: aug.ZoomOut, Outline: aug.Outline}, tok)
	if err != nil {
		b.Fatal(err)
	}
	next, stop := iterPull(l)
	defer stop()
	first, _ := next() // start the pipeline outside the timer
	first.Release()
	b.ResetTimer()
	cpu0 := procstat.CPUTime()
	for b.Loop() {
		bt, err := next()
		if err != nil {
			b.Fatal(err)
		}
		bt.Release()
	}
	cpuSample := (procstat.CPUTime() - cpu0).Seconds() / float64(batch*b.N)
	sps := float64(batch*b.N) / b.Elapsed().Seconds()
	b.ReportMetric(sps, "samples/s")
	b.ReportMetric(cpuSample*1e3, "cpu_ms/sample")
	if stepSamplesPerSec > 0 {
		b.ReportMetric(sps/stepSamplesPerSec, "x_step")
		// The same ratio in CPU time: how many pairs the loader prepares per CPU-second the step
		// needs for one pair (robust to other load on the machine).
		b.ReportMetric(stepCPUPerSample/cpuSample, "x_step_cpu")
	}
	b.ReportMetric(procstat.PeakRSSMB(), "peak_RSS_MB")
}

func iterPull(l *Loader) (func() (*Batch, error), func()) {
	ch := make(chan *Batch)
	errc := make(chan error, 1)
	ctx, cancel := stdctx.WithCancel(stdctx.Background())
	go func() {
		defer close(ch)
		for bt, err := range l.Batches(ctx, shards.Position{}) {
			if err != nil {
				errc <- err
				return
			}
			select {
			case ch <- bt:
			case <-ctx.Done():
				bt.Release()
				return
			}
		}
	}()
	next := func() (*Batch, error) {
		bt, ok := <-ch
		if !ok {
			select {
			case err := <-errc:
				return nil, err
			default:
				return nil, os.ErrClosed
			}
		}
		return bt, nil
	}
	return next, cancel
}

// benchMatMul reports the backend's bare n×n matmul GFLOP/s (gomlxfix.MatMul) and returns it.
func benchMatMul(b *testing.B, be backends.Backend, n int) float64 {
	run, flops := gomlxfix.MatMulBaseline(be, n)
	b.ResetTimer()
	for b.Loop() {
		run()
	}
	gflops := flops / (b.Elapsed().Seconds() / float64(b.N)) / 1e9
	b.ReportMetric(gflops, "GFLOP/s")
	return gflops
}

// BenchmarkPreprocess is one sample's decode + crop + resize + normalise (the loader's per-core cost).
func BenchmarkPreprocess(b *testing.B) {
	dir, _ := benchShards(b, 16, 256)
	var jpgs [][]byte
	for rec, err := range shards.ReadDir(stdctx.Background(), dir, []string{shards.ColImage}) {
		if err != nil {
			b.Fatal(err)
		}
		col := rec.Column(0)
		for i := range col.Len() {
			jpgs = append(jpgs, bytes.Clone(col.(interface{ Value(int) []byte }).Value(i)))
		}
	}
	l := &Loader{opts: LoaderOptions{Resolution: 48, ScaleMin: 0.9, ScaleMax: 1, MaxPixels: inference.DefaultMaxPixels}}
	res := inference.NewResampler(48)
	tile := make([]float32, 48*48*3)
	i := 0
	cpu0 := procstat.CPUTime()
	for b.Loop() {
		if err := l.prepare(res, nil, tile, job{image: jpgs[i%len(jpgs)], pos: shards.Position{Consumed: int64(i)}}); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "samples/s")
	b.ReportMetric((procstat.CPUTime()-cpu0).Seconds()/float64(b.N)*1e3, "cpu_ms/sample")
}
