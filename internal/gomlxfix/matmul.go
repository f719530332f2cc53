package gomlxfix

import (
	"math/rand/v2"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// MatMulBaseline prepares the baseline the training benchmarks compare against: an n×n · n×n float32
// product on be, compiled and run once. run executes it again (releasing its output); flops is
// the work of one run (2n³), so GFLOP/s = flops / seconds per run / 1e9.
func MatMulBaseline(be backends.Backend, n int) (run func(), flops float64) {
	rng := rand.New(rand.NewPCG(1, 1))
	data := make([]float32, n*n)
	for i := range data {
		data[i] = float32(rng.NormFloat64())
	}
	x := tensors.FromFlatDataAndDimensions(data, n, n)
	e := graph.MustNewExec(be, func(a, c *graph.Node) *graph.Node {
		return graph.DotGeneral(a, []int{1}, nil, c, []int{0}, nil)
	})
	run = func() {
		for _, t := range e.MustExec(x, x) {
			t.FinalizeAll()
		}
	}
	run() // compile outside the timed loop
	return run, 2 * float64(n) * float64(n) * float64(n)
}
