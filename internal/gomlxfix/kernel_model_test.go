package gomlxfix_test

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/train/optimizers"

	"github.com/witdata/wit/internal/gomlxfix"
	"github.com/witdata/wit/internal/parprof"
	"github.com/witdata/wit/internal/procstat"
	"github.com/witdata/wit/model"
)

// clipBatch is n random images and captions shaped as the tokenizer writes them (start token,
// words, end token = the largest id, padding).
func clipBatch(cfg model.Config, n int, seed uint64) (images, tokens *tensors.Tensor) {
	rng := rand.New(rand.NewPCG(seed, seed+1))
	r, l := cfg.ImageResolution, cfg.ContextLength
	img := make([]float32, n*r*r*3)
	for i := range img {
		img[i] = float32(rng.NormFloat64())
	}
	tok := make([]int32, n*l)
	for b := range n {
		row := tok[b*l : (b+1)*l]
		length := 2 + rng.IntN(l-1)
		row[0] = int32(cfg.VocabSize - 2)
		for i := 1; i < length-1; i++ {
			row[i] = int32(1 + rng.IntN(cfg.VocabSize-3))
		}
		row[length-1] = int32(cfg.VocabSize - 1)
	}
	return tensors.FromFlatDataAndDimensions(img, n, r, r, 3), tensors.FromFlatDataAndDimensions(tok, n, l)
}

// trainLosses runs steps training steps of a freshly initialised model (same seed every call) under
// kernel k and returns the losses.
func trainLosses(t testing.TB, be backends.Backend, cfg model.Config, k gomlxfix.Kernel, opt optimizers.Interface, batch, steps int) []float64 {
	t.Helper()
	defer gomlxfix.SetKernel(gomlxfix.SetKernel(k))
	m, err := model.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.New()
	if err := ctx.SetRNGStateFromSeed(7); err != nil {
		t.Fatal(err)
	}
	step, err := context.NewExec(be, ctx, m.TrainStep(opt))
	if err != nil {
		t.Fatal(err)
	}
	defer step.Finalize()
	images, tokens := clipBatch(cfg, batch, 3)
	var losses []float64
	for range steps {
		out, err := step.Exec(images, tokens)
		if err != nil {
			t.Fatal(err)
		}
		losses = append(losses, float64(out[0].Value().(float32)))
	}
	return losses
}

// TestTrainStepKernels: a small CLIP's first training steps give the same losses (1e-5 relative)
// with the fast kernel, the block kernel and GoMLX's own. The second and third losses follow from
// the first steps' gradients (plain SGD), so they check the backward products too. The model is
// large enough that its products take every path: GoMLX's blocked and small paths, the fast
// kernel's row and batch splits.
func TestTrainStepKernels(t *testing.T) {
	cfg := model.Config{
		Name: "kernel-test", EmbedDim: 32, ImageResolution: 16, VisionLayers: 1, VisionWidth: 64, VisionPatchSize: 4,
		VisionHeads: 2, ContextLength: 10, VocabSize: 100, TransformerWidth: 48, TransformerHeads: 2, TransformerLayers: 1,
	}.WithDefaults()
	be := gomlxfix.MustBackend()
	sgd := optimizers.StochasticGradientDescent().WithLearningRate(0.5).WithDecay(false).Done()
	const batch, steps = 12, 3
	want := trainLosses(t, be, cfg, gomlxfix.KernelGoMLX, sgd, batch, steps)
	for _, k := range []gomlxfix.Kernel{gomlxfix.KernelFast, gomlxfix.KernelFastDot, gomlxfix.KernelBlock} {
		computed, fallbacks := gomlxfix.FastDotGenerals()
		ops, opFallbacks := gomlxfix.FastOps()
		got := trainLosses(t, be, cfg, k, sgd, batch, steps)
		for i := range want {
			if d := math.Abs(got[i]-want[i]) / math.Abs(want[i]); d > 1e-5 || math.IsNaN(got[i]) {
				t.Errorf("%s: step %d loss %.7g, GoMLX's kernel %.7g (rel. %.2g)", k, i, got[i], want[i], d)
			}
		}
		c2, f2 := gomlxfix.FastDotGenerals()
		if k != gomlxfix.KernelBlock && (c2 == computed || f2 != fallbacks) {
			t.Errorf("%s: %d products computed, %d handed to GoMLX", k, c2-computed, f2-fallbacks)
		}
		o2, of2 := gomlxfix.FastOps()
		if k == gomlxfix.KernelFast && o2 == ops || k != gomlxfix.KernelFast && o2 != ops {
			t.Errorf("%s: %d fast ops executed (%d handed to GoMLX)", k, o2-ops, of2-opFallbacks)
		}
	}
	if want[2] >= want[0] {
		t.Errorf("losses %v: SGD did not lower the loss, the check is not exercising the gradients", want)
	}
}

// BenchmarkTrainStepKernels measures one clip-tiny training step at batch 64 (forward, backward,
// GoMLX's Adam, clamp: the model package's TrainStep) with each kernel, in one process:
//
//	go test ./internal/gomlxfix -run '^$' -bench TrainStepKernels -benchtime 3x
//
// s/step, cpu_s/step and cpu/wall (how many cores the step keeps busy); each run after the first
// reports fast_x, its time over the fast kernel's. The fast runs also report parallelism and
// par_bound from an execution trace of 3 more steps (internal/parprof); fast-nospin is the fast
// kernel with workers that sleep as soon as they are idle (SetWorkerSpin(0)). fast-avx2 is the fast kernel with the AVX2 tiles
// where the CPU also has AVX-512.
func BenchmarkTrainStepKernels(b *testing.B) {
	f, err := model.LoadFile("../../configs/clip-tiny.yaml")
	if err != nil {
		b.Fatal(err)
	}
	cfg, batch := f.Model, 64
	be := gomlxfix.MustBackend()
	var fast float64
	for _, run := range []struct {
		name   string
		kernel gomlxfix.Kernel
		avx512 bool
		spin   time.Duration
	}{
		{"fast", gomlxfix.KernelFast, true, gomlxfix.DefaultWorkerSpin}, {"fast-nospin", gomlxfix.KernelFast, true, 0},
		{"fast-avx2", gomlxfix.KernelFast, false, gomlxfix.DefaultWorkerSpin},
		{"fastdot", gomlxfix.KernelFastDot, true, gomlxfix.DefaultWorkerSpin}, {"block", gomlxfix.KernelBlock, true, gomlxfix.DefaultWorkerSpin},
		{"gomlx", gomlxfix.KernelGoMLX, true, gomlxfix.DefaultWorkerSpin},
	} {
		k := run.kernel
		b.Run(run.name, func(b *testing.B) {
			defer gomlxfix.SetKernel(gomlxfix.SetKernel(k))
			defer gomlxfix.UseAVX512Tiles(gomlxfix.UseAVX512Tiles(run.avx512))
			defer gomlxfix.SetWorkerSpin(gomlxfix.SetWorkerSpin(run.spin))
			m, _ := model.New(cfg)
			ctx := context.New()
			_ = ctx.SetRNGStateFromSeed(1)
			step := context.MustNewExec(be, ctx, m.TrainStep(optimizers.Adam().LearningRate(5e-4).Done()))
			defer step.Finalize()
			images, tokens := clipBatch(cfg, batch, 5)
			step.MustExec(images, tokens) // compile + initialise outside the timer
			b.ResetTimer()
			cpu0 := procstat.CPUTime()
			for b.Loop() {
				step.MustExec(images, tokens)
			}
			cpu := (procstat.CPUTime() - cpu0).Seconds() / float64(b.N)
			sec := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(sec, "s/step")
			b.ReportMetric(cpu, "cpu_s/step")
			b.ReportMetric(cpu/sec, "cpu/wall")
			b.ReportMetric(float64(cfg.TrainFLOPs(batch))/sec/1e9, "GFLOP/s")
			if run.kernel == gomlxfix.KernelFast {
				parprof.ReportBench(b, 3, func() { step.MustExec(images, tokens) })
			}
			if run.name == "fast" {
				fast = sec
			} else if fast > 0 {
				b.ReportMetric(sec/fast, "fast_x")
			}
		})
	}
}
