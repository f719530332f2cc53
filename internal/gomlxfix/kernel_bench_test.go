package gomlxfix

import (
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/gomlx/gomlx/backends"

	"github.com/witdata/wit/internal/procstat"
)

// BenchmarkFMAPeak measures the FMA units' throughput: 12 independent FMA chains per goroutine,
// 8-wide (AVX2) and 16-wide (AVX-512, where the CPU has it), on 1 goroutine and on GOMAXPROCS.
// The tiles' and matmuls' GFLOP/s are read against it.
//
//	go test ./internal/gomlxfix -run '^$' -bench FMAPeak
func BenchmarkFMAPeak(b *testing.B) {
	if !hasAsmTiles {
		b.Skip("no AVX2/FMA assembly in this build or CPU")
	}
	const rounds = 1 << 16
	for _, wide := range []bool{false, true} {
		if wide && !hasAVX512Tiles {
			continue
		}
		for _, g := range []int{1, runtime.GOMAXPROCS(0)} {
			name := map[bool]string{false: "avx2", true: "avx512"}[wide] + map[bool]string{true: "/1core", false: "/allcores"}[g == 1]
			b.Run(name, func(b *testing.B) {
				cpu0 := procstat.CPUTime()
				var flops float64
				var mu sync.Mutex
				for b.Loop() {
					var wg sync.WaitGroup
					for range g {
						wg.Add(1)
						go func() {
							defer wg.Done()
							f := fmaPeak(rounds, wide)
							mu.Lock()
							flops += f
							mu.Unlock()
						}()
					}
					wg.Wait()
				}
				reportFLOPs(b, flops, cpu0)
			})
		}
	}
}

// BenchmarkTiles measures the tiles alone on L1-resident operands: one 6×16 strip… over a k=256
// panel block, the inner loop of every product.
func BenchmarkTiles(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	const k, strips, panels = 256, 4, 4
	a := randFloats(rng, strips*tileRows*k)
	bp := randFloats(rng, panels*k*panelCols)
	c := make([]float32, strips*tileRows*panels*panelCols)
	for _, asm := range tilePaths() {
		b.Run(asm.String(), func(b *testing.B) {
			cpu0 := procstat.CPUTime()
			withTiles(asm, func() {
				for b.Loop() {
					tiles(tileRows, strips, panels, k, a, k, 1, bp, c, panels*panelCols, true)
				}
			})
			flops := 2.0 * strips * tileRows * panels * panelCols * k
			reportFLOPs(b, flops*float64(b.N), cpu0)
		})
	}
}

// reportFLOPs reports GFLOP/s (wall) and GFLOP/cpu_s (per second of this process's CPU time,
// steadier on a shared machine) for flops done since the benchmark's timer and cpu0 started.
func reportFLOPs(b *testing.B, flops float64, cpu0 time.Duration) {
	b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	if cpu := (procstat.CPUTime() - cpu0).Seconds(); cpu > 0 {
		b.ReportMetric(flops/cpu/1e9, "GFLOP/cpu_s")
	}
}

// BenchmarkMatMul1024 compares the kernels on the training benchmarks' baseline, an n×n·n×n float32
// product through GoMLX (compiled once; each kernel selected in turn, in the same process):
//
//	go test ./internal/gomlxfix -run '^$' -bench MatMul1024 -count 3
func BenchmarkMatMul1024(b *testing.B) {
	benchMatMulKernels(b, testBackend, 1024)
}

func benchMatMulKernels(b *testing.B, be backends.Backend, n int) {
	run, flops := MatMulBaseline(be, n)
	defer SetKernel(CurrentKernel())
	for _, r := range []struct {
		name   string
		kernel Kernel
		avx512 bool
	}{{"fast", KernelFast, true}, {"fast-avx2", KernelFast, false}, {"block", KernelBlock, true}, {"gomlx", KernelGoMLX, true}} {
		if r.name == "fast-avx2" && !hasAVX512Tiles {
			continue
		}
		b.Run(r.name, func(b *testing.B) {
			SetKernel(r.kernel)
			defer UseAVX512Tiles(UseAVX512Tiles(r.avx512))
			run()
			b.ResetTimer()
			cpu0 := procstat.CPUTime()
			for b.Loop() {
				run()
			}
			reportFLOPs(b, flops*float64(b.N), cpu0)
		})
	}
}
