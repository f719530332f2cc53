package model

import (
	"testing"

	"github.com/gomlx/gomlx/backends"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/witdata/wit/internal/gomlxfix"
	"github.com/witdata/wit/internal/procstat"
	"github.com/witdata/wit/train/optim"
)

// BenchmarkTrainStep measures one clip-tiny training step at batch 64 (forward, backward, AdamW,
// clamp) beside the same backend's bare matmul throughput, for each candidate backend configuration:
//
//	go test ./model -run - -bench TrainStep -benchtime 3x
//
// Metrics: s/step, samples/s, GFLOP/s (TrainFLOPs / time: matrix products only), and the ratio of the
// step's GFLOP/s to the bare matmul's; peak_RSS_MB is the process high-water mark.
func BenchmarkTrainStep(b *testing.B) {
	f, err := LoadFile("../configs/clip-tiny.yaml")
	if err != nil {
		b.Fatal(err)
	}
	cfg, batch := f.Model, 64
	for _, bcfg := range []string{gomlxfix.SimpleGoConfig, "parallelism=-1"} {
		be, err := gomlxfix.NewSimpleGo(bcfg)
		if err != nil {
			b.Fatal(err)
		}
		var matmulGFLOPs float64
		b.Run(bcfg+"/matmul1024", func(b *testing.B) { matmulGFLOPs = benchMatMul(b, be, 1024) })
		b.Run(bcfg+"/clip-tiny-b64", func(b *testing.B) {
			m, err := New(cfg)
			if err != nil {
				b.Fatal(err)
			}
			adamw, _ := optim.NewAdamW(optim.DefaultAdamW())
			ctx := context.New()
			_ = ctx.SetRNGStateFromSeed(1)
			step := context.MustNewExec(be, ctx, m.TrainStep(adamw))
			images, tokens := batchFor(cfg, batch, 5)
			step.MustExec(images, tokens) // compile + initialise outside the timer
			b.ResetTimer()
			for b.Loop() {
				step.MustExec(images, tokens)
			}
			sec := b.Elapsed().Seconds() / float64(b.N)
			gflops := float64(cfg.TrainFLOPs(batch)) / sec / 1e9
			b.ReportMetric(sec, "s/step")
			b.ReportMetric(float64(batch)/sec, "samples/s")
			b.ReportMetric(gflops, "GFLOP/s")
			if matmulGFLOPs > 0 {
				b.ReportMetric(gflops/matmulGFLOPs, "of_matmul")
			}
			b.ReportMetric(procstat.PeakRSSMB(), "peak_RSS_MB")
		})
	}
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

// BenchmarkEmbed is the inference hot path of `wit embed` / `wit score`: clip-tiny image and text
// embeddings for a batch of 64.
func BenchmarkEmbed(b *testing.B) {
	f, err := LoadFile("../configs/clip-tiny.yaml")
	if err != nil {
		b.Fatal(err)
	}
	m, _ := New(f.Model)
	ctx := context.New()
	_ = ctx.SetRNGStateFromSeed(1)
	e := context.MustNewExec(backend, ctx, func(ctx *context.Context, images, tokens *Node) []*Node {
		return []*Node{m.BuildImageEmbeddings(ctx, images), m.BuildTextEmbeddings(ctx, tokens)}
	})
	images, tokens := batchFor(f.Model, 64, 9)
	e.MustExec(images, tokens)
	b.ResetTimer()
	for b.Loop() {
		e.MustExec(images, tokens)
	}
	b.ReportMetric(64*float64(b.N)/b.Elapsed().Seconds(), "pairs/s")
}
