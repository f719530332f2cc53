package gomlxfix

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

var testBackend backends.Backend

func TestMain(m *testing.M) {
	// Belt and braces: the package init already sets it; tests must never reach a plugin download.
	_ = os.Setenv(NoAutoInstallEnv, "1")
	testBackend = MustBackend()
	os.Exit(m.Run())
}

// dotCase is one DotGeneral configuration.
type dotCase struct {
	lhs, lhsC, lhsB []int
	rhs, rhsC, rhsB []int
}

func (c dotCase) String() string {
	return fmt.Sprintf("lhs%v c%v b%v × rhs%v c%v b%v", c.lhs, c.lhsC, c.lhsB, c.rhs, c.rhsC, c.rhsB)
}

// dotCases covers plain matmuls, Dense layers on [B,T,D], attention-style batched products,
// transposed layouts, several contracting axes, several (permuted) batch axes, outer products and
// full contractions.
var dotCases = []dotCase{
	{[]int{3, 4}, []int{1}, nil, []int{4, 5}, []int{0}, nil},                                         // matmul
	{[]int{4, 3}, []int{0}, nil, []int{4, 5}, []int{0}, nil},                                         // lhs transposed
	{[]int{3, 4}, []int{1}, nil, []int{5, 4}, []int{1}, nil},                                         // rhs transposed (x·Wᵀ)
	{[]int{4, 3}, []int{0}, nil, []int{5, 4}, []int{1}, nil},                                         // both transposed
	{[]int{2, 3, 4}, []int{2}, nil, []int{4, 5}, []int{0}, nil},                                      // Dense on [B,T,D]
	{[]int{2, 3, 4}, []int{2}, []int{0}, []int{2, 4, 5}, []int{1}, []int{0}},                         // bmm
	{[]int{2, 3, 4}, []int{2}, []int{0}, []int{2, 5, 4}, []int{2}, []int{0}},                         // q·kᵀ
	{[]int{3, 2, 4}, []int{2}, []int{1}, []int{5, 2, 4}, []int{2}, []int{1}},                         // batch in the middle
	{[]int{2, 3, 4, 5}, []int{3}, []int{0, 2}, []int{2, 6, 4, 5}, []int{3}, []int{0, 2}},             // heads: [B,T,H,D]
	{[]int{2, 3, 4, 5}, []int{3}, []int{0, 2}, []int{4, 2, 5, 6}, []int{2}, []int{1, 0}},             // permuted batch pairing
	{[]int{2, 3, 4}, []int{1, 2}, nil, []int{3, 4, 5}, []int{0, 1}, nil},                             // two contracting axes
	{[]int{2, 3, 4}, []int{2, 1}, nil, []int{4, 3, 5}, []int{0, 1}, nil},                             // two contracting, crossed order
	{[]int{3, 4, 2}, []int{0, 1}, []int{2}, []int{2, 4, 3}, []int{2, 1}, []int{0}},                   // two contracting + batch
	{[]int{3}, []int{0}, nil, []int{3}, []int{0}, nil},                                               // vector dot
	{[]int{3}, nil, nil, []int{4}, nil, nil},                                                         // outer product
	{[]int{2, 3}, nil, []int{0}, []int{2, 4}, nil, []int{0}},                                         // batched outer
	{[]int{2, 3}, []int{0, 1}, nil, []int{2, 3}, []int{0, 1}, nil},                                   // full contraction
	{[]int{2, 3}, []int{1}, []int{0}, []int{2, 3}, []int{1}, []int{0}},                               // batched dot
	{[]int{5, 2, 3}, []int{0}, []int{1}, []int{2, 5}, []int{1}, []int{0}},                            // contract first axis
	{[]int{2, 3, 4, 5}, []int{1, 3}, []int{0}, []int{2, 5, 6, 3}, []int{3, 1}, []int{0}},             // 2 contracting, batch, reversed
	{[]int{2, 1, 4}, []int{2}, nil, []int{4, 1}, []int{0}, nil},                                      // unit dims
	{[]int{6, 7}, []int{1}, nil, []int{7}, []int{0}, nil},                                            // matrix·vector
	{[]int{7}, []int{0}, nil, []int{7, 6}, []int{0}, nil},                                            // vector·matrix
	{[]int{2, 3, 4, 5}, []int{2}, []int{3, 0}, []int{5, 4, 2, 3}, []int{1}, []int{0, 2}},             // batch order swapped
	{[]int{3, 4, 5}, []int{1}, nil, []int{2, 4, 6}, []int{1}, nil},                                   // crosses on both sides
	{[]int{2, 3, 4, 5, 2}, []int{2, 3}, []int{0, 4}, []int{2, 5, 4, 2, 7}, []int{2, 1}, []int{0, 3}}, // rank 5
	{[]int{8, 64, 96}, []int{2}, nil, []int{96, 80}, []int{0}, nil},                                  // large: blocked kernel
	{[]int{4, 33, 128}, []int{2}, []int{0}, []int{4, 40, 128}, []int{2}, []int{0}},                   // large attention logits
}

func randTensor(rng *rand.Rand, dtype dtypes.DType, dims []int) *tensors.Tensor {
	size := 1
	for _, d := range dims {
		size *= d
	}
	switch dtype {
	case dtypes.Float64:
		data := make([]float64, size)
		for i := range data {
			data[i] = rng.NormFloat64()
		}
		return tensors.FromFlatDataAndDimensions(data, dims...)
	default:
		data := make([]float32, size)
		for i := range data {
			data[i] = float32(rng.NormFloat64())
		}
		return tensors.FromFlatDataAndDimensions(data, dims...)
	}
}

// lossAndGrads executes loss = Σ DotGeneral(lhs, rhs) ⊙ w and its gradients w.r.t. lhs and rhs, with
// the VJP currently registered.
func lossAndGrads(t testing.TB, c dotCase, lhs, rhs, w *tensors.Tensor) []*tensors.Tensor {
	t.Helper()
	exec, err := NewExec(testBackend, func(lhs, rhs, w *Node) []*Node {
		out := DotGeneral(lhs, c.lhsC, c.lhsB, rhs, c.rhsC, c.rhsB)
		loss := ReduceAllSum(Mul(out, w))
		return append([]*Node{loss}, Gradient(loss, lhs, rhs)...)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer exec.Finalize()
	out, err := exec.Exec(lhs, rhs, w)
	if err != nil {
		t.Fatalf("%s: %v", c, err)
	}
	return out
}

// withOriginalVJP runs fn with GoMLX's original Dot/DotGeneral VJPs registered.
func withOriginalVJP(fn func()) {
	VJPRegistration[NodeTypeDotGeneral] = OriginalDotGeneralVJP
	VJPRegistration[NodeTypeDot] = OriginalDotVJP
	defer func() {
		VJPRegistration[NodeTypeDotGeneral] = DotGeneralVJP
		VJPRegistration[NodeTypeDot] = DotVJP
	}()
	fn()
}

func outShape(t testing.TB, c dotCase, dtype dtypes.DType) []int {
	g := NewGraph(testBackend, "shape")
	defer g.Finalize()
	l := Parameter(g, "l", shapes.Make(dtype, c.lhs...))
	r := Parameter(g, "r", shapes.Make(dtype, c.rhs...))
	return DotGeneral(l, c.lhsC, c.lhsB, r, c.rhsC, c.rhsB).Shape().Dimensions
}

func maxAbsDiff(t testing.TB, a, b *tensors.Tensor) float64 {
	t.Helper()
	if !a.Shape().Equal(b.Shape()) {
		t.Fatalf("shapes differ: %s vs %s", a.Shape(), b.Shape())
	}
	fa, fb := toFloat64(a), toFloat64(b)
	m := 0.0
	for i := range fa {
		m = max(m, math.Abs(fa[i]-fb[i]))
	}
	return m
}

func maxAbs(t *tensors.Tensor) float64 {
	m := 0.0
	for _, v := range toFloat64(t) {
		m = max(m, math.Abs(v))
	}
	return m
}

func toFloat64(t *tensors.Tensor) []float64 {
	switch t.DType() {
	case dtypes.Float64:
		return tensors.MustCopyFlatData[float64](t)
	case dtypes.Float32:
		f := tensors.MustCopyFlatData[float32](t)
		out := make([]float64, len(f))
		for i, v := range f {
			out[i] = float64(v)
		}
		return out
	}
	panic("dtype " + t.DType().String())
}

func TestDotGeneralAxesReadBack(t *testing.T) {
	g := NewGraph(testBackend, "axes")
	defer g.Finalize()
	for i, c := range dotCases {
		l := Parameter(g, fmt.Sprintf("l%d", i), shapes.Make(dtypes.Float32, c.lhs...))
		r := Parameter(g, fmt.Sprintf("r%d", i), shapes.Make(dtypes.Float32, c.rhs...))
		node := DotGeneral(l, c.lhsC, c.lhsB, r, c.rhsC, c.rhsB)
		axes, ok := DotGeneralAxes(node)
		if !ok {
			t.Fatalf("%s: axes not read", c)
		}
		if fmt.Sprint(axes.LHSContracting, axes.LHSBatch, axes.RHSContracting, axes.RHSBatch) !=
			fmt.Sprint(nz(c.lhsC), nz(c.lhsB), nz(c.rhsC), nz(c.rhsB)) {
			t.Errorf("%s: read %+v", c, axes)
		}
		// The printed form gives the same axes (the fallback source).
		parsed, err := ParseDotGeneralString(node.String())
		if err != nil || fmt.Sprint(parsed) != fmt.Sprint(axes) {
			t.Errorf("%s: String() %q parsed as %+v (%v), reflection %+v", c, node.String(), parsed, err, axes)
		}
	}
	// A node of another type is refused, never misread.
	x := Parameter(g, "x", shapes.Make(dtypes.Float32, 2, 2))
	if _, ok := DotGeneralAxes(Add(x, x)); ok {
		t.Error("Add node read as DotGeneral")
	}
}

func TestParseDotGeneralStringRejects(t *testing.T) {
	for _, s := range []string{"", "Add(x, y)", "DotGeneral(lhs=[#1], lhsContractingAxes=[a], lhsBatchAxes=[], rhs=[#2], rhsContractingAxes=[0], rhsBatchAxes=[])"} {
		if _, err := ParseDotGeneralString(s); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
}

func FuzzParseDotGeneralString(f *testing.F) {
	f.Add("DotGeneral(lhs=[#3], lhsContractingAxes=[2 1], lhsBatchAxes=[0], rhs=[#4], rhsContractingAxes=[1 2], rhsBatchAxes=[0]) -> (Float32)[2 3]")
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseDotGeneralString(s)
		if err != nil {
			return
		}
		for _, l := range [][]int{a.LHSContracting, a.LHSBatch, a.RHSContracting, a.RHSBatch} {
			for _, ax := range l {
				if ax < 0 {
					t.Fatalf("negative axis from %q", s)
				}
			}
		}
	})
}

func nz(s []int) []int {
	if s == nil {
		return []int{}
	}
	return s
}

// TestDotGeneralVJPMatchesOriginal compares the replacement against GoMLX's own VJP on every case,
// in float32 (the training dtype) and float64.
func TestDotGeneralVJPMatchesOriginal(t *testing.T) {
	before := DotVJPFallbacks()
	rng := rand.New(rand.NewPCG(1, 2))
	worst := map[dtypes.DType]float64{}
	for _, dtype := range []dtypes.DType{dtypes.Float32, dtypes.Float64} {
		tol := 1e-5
		if dtype == dtypes.Float64 {
			tol = 1e-12
		}
		for _, c := range dotCases {
			lhs, rhs := randTensor(rng, dtype, c.lhs), randTensor(rng, dtype, c.rhs)
			w := randTensor(rng, dtype, outShape(t, c, dtype))
			fixed := lossAndGrads(t, c, lhs, rhs, w)
			var orig []*tensors.Tensor
			withOriginalVJP(func() { orig = lossAndGrads(t, c, lhs, rhs, w) })
			for i := 1; i < 3; i++ {
				// Relative to the gradient's scale: the large cases sum hundreds of float32 terms in a
				// different order than the original.
				d := maxAbsDiff(t, fixed[i], orig[i]) / (1 + maxAbs(orig[i]))
				worst[dtype] = max(worst[dtype], d)
				if d > tol {
					t.Errorf("%s %s: grad #%d differs from original VJP by %g", dtype, c, i, d)
				}
			}
		}
	}
	if n := DotVJPFallbacks() - before; n != 0 {
		t.Errorf("%d nodes fell back to the original VJP", n)
	}
	t.Logf("%d configurations; max |Δ|/(1+max|g|) vs original VJP: float32 %.2g, float64 %.2g", len(dotCases), worst[dtypes.Float32], worst[dtypes.Float64])
}

// TestDotGeneralVJPNumeric checks the replacement against central finite differences (float64).
func TestDotGeneralVJPNumeric(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	worst := 0.0
	for _, c := range dotCases {
		lhs, rhs := randTensor(rng, dtypes.Float64, c.lhs), randTensor(rng, dtypes.Float64, c.rhs)
		if lhs.Shape().Size()+rhs.Shape().Size() > 400 {
			continue // two executions per element: keep the numeric check to small operands.
		}
		w := randTensor(rng, dtypes.Float64, outShape(t, c, dtypes.Float64))
		exec, err := NewExec(testBackend, func(lhs, rhs, w *Node) *Node {
			return ReduceAllSum(Mul(DotGeneral(lhs, c.lhsC, c.lhsB, rhs, c.rhsC, c.rhsB), w))
		})
		if err != nil {
			t.Fatal(err)
		}
		lossAt := func(l, r *tensors.Tensor) float64 {
			out, err := exec.Exec(l, r, w)
			if err != nil {
				t.Fatal(err)
			}
			return toFloat64(out[0])[0]
		}
		grads := lossAndGrads(t, c, lhs, rhs, w)
		for which, operand := range []*tensors.Tensor{lhs, rhs} {
			flat := toFloat64(operand)
			analytic := toFloat64(grads[1+which])
			const eps = 1e-5
			for i := range flat {
				plus, minus := append([]float64(nil), flat...), append([]float64(nil), flat...)
				plus[i] += eps
				minus[i] -= eps
				tp := tensors.FromFlatDataAndDimensions(plus, operand.Shape().Dimensions...)
				tm := tensors.FromFlatDataAndDimensions(minus, operand.Shape().Dimensions...)
				var num float64
				if which == 0 {
					num = (lossAt(tp, rhs) - lossAt(tm, rhs)) / (2 * eps)
				} else {
					num = (lossAt(lhs, tp) - lossAt(lhs, tm)) / (2 * eps)
				}
				d := math.Abs(num - analytic[i])
				worst = max(worst, d)
				if d > 1e-6*(1+math.Abs(num)) {
					t.Errorf("%s: operand %d elem %d: numeric %g, analytic %g", c, which, i, num, analytic[i])
				}
			}
		}
		exec.Finalize()
	}
	t.Logf("max |numeric − analytic| = %.2g over %d configurations", worst, len(dotCases))
}

// TestMatMulDotVJP covers graph.Dot (MatMul on rank ≤ 2), whose VJP is also replaced.
func TestMatMulDotVJP(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, dims := range [][3]int{{3, 4, 5}, {1, 7, 2}, {8, 8, 8}} {
		a := randTensor(rng, dtypes.Float64, []int{dims[0], dims[1]})
		b := randTensor(rng, dtypes.Float64, []int{dims[1], dims[2]})
		w := randTensor(rng, dtypes.Float64, []int{dims[0], dims[2]})
		run := func() []*tensors.Tensor {
			e, err := NewExec(testBackend, func(a, b, w *Node) []*Node {
				loss := ReduceAllSum(Mul(MatMul(a, b), w))
				return Gradient(loss, a, b)
			})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Finalize()
			out, err := e.Exec(a, b, w)
			if err != nil {
				t.Fatal(err)
			}
			return out
		}
		fixed := run()
		var orig []*tensors.Tensor
		withOriginalVJP(func() { orig = run() })
		for i := range fixed {
			if d := maxAbsDiff(t, fixed[i], orig[i]); d > 1e-12 {
				t.Errorf("MatMul %v grad %d differs by %g", dims, i, d)
			}
		}
	}
	// Matrix·vector (rank 2 × rank 1) also goes through Dot.
	m := randTensor(rng, dtypes.Float64, []int{4, 3})
	v := randTensor(rng, dtypes.Float64, []int{3})
	w := randTensor(rng, dtypes.Float64, []int{4})
	run := func() []*tensors.Tensor {
		e := MustNewExec(testBackend, func(m, v, w *Node) []*Node {
			return Gradient(ReduceAllSum(Mul(MatMul(m, v), w)), m, v)
		})
		defer e.Finalize()
		return e.MustExec(m, v, w)
	}
	fixed := run()
	var orig []*tensors.Tensor
	withOriginalVJP(func() { orig = run() })
	for i := range fixed {
		if d := maxAbsDiff(t, fixed[i], orig[i]); d > 1e-12 {
			t.Errorf("matrix·vector grad %d differs by %g", i, d)
		}
	}
}

// maxNodeElements builds the gradient graph of a Dense layer on a realistic CLIP-tiny activation and
// returns the largest node (in elements) it contains.
func maxNodeElements(t testing.TB, b, tlen, in, out int) int {
	g := NewGraph(testBackend, "mem")
	defer g.Finalize()
	x := Parameter(g, "x", shapes.Make(dtypes.Float32, b, tlen, in))
	w := Parameter(g, "w", shapes.Make(dtypes.Float32, in, out))
	loss := ReduceAllSum(DotGeneral(x, []int{2}, nil, w, []int{0}, nil))
	_ = Gradient(loss, x, w)
	largest := 0
	for _, n := range g.Nodes() {
		if n.NumOutputs() == 1 {
			largest = max(largest, n.Shape().Size())
		}
	}
	return largest
}

// TestDotGeneralVJPMemory shows the fix structurally: on a [64,65,256]×[256,1024] Dense (CLIP-tiny's MLP),
// GoMLX's VJP builds a node of 64·65·256·1024 floats (4.4 GB); the replacement's largest node is the
// activation itself.
func TestDotGeneralVJPMemory(t *testing.T) {
	const b, tlen, in, out = 64, 65, 256, 1024
	fixed := maxNodeElements(t, b, tlen, in, out)
	var orig int
	withOriginalVJP(func() { orig = maxNodeElements(t, b, tlen, in, out) })
	if fixed > b*tlen*out {
		t.Errorf("replacement VJP has a node of %d elements, more than the output (%d)", fixed, b*tlen*out)
	}
	if orig < b*tlen*in*out {
		t.Logf("original VJP no longer materialises the outer product (largest node %d): upstream fixed?", orig)
	}
	t.Logf("largest gradient node: original %d elements (%.1f GB f32), replacement %d (%.1f MB)",
		orig, float64(orig)*4/1e9, fixed, float64(fixed)*4/1e6)
}

// TestDotGeneralVJPTime runs a Dense gradient small enough for the original VJP to finish, and checks
// the replacement is faster.
func TestDotGeneralVJPTime(t *testing.T) {
	if testing.Short() {
		t.Skip("timing")
	}
	c := dotCase{[]int{16, 17, 64}, []int{2}, nil, []int{64, 256}, []int{0}, nil}
	rng := rand.New(rand.NewPCG(7, 8))
	lhs, rhs := randTensor(rng, dtypes.Float32, c.lhs), randTensor(rng, dtypes.Float32, c.rhs)
	w := randTensor(rng, dtypes.Float32, []int{16, 17, 256})
	// The best of 5: one run of a few milliseconds can take a GC pause or lose the CPU to
	// the other packages' tests (go test ./... runs them in parallel).
	timeIt := func() time.Duration {
		_ = lossAndGrads(t, c, lhs, rhs, w) // includes compile; run again for the timing.
		best := time.Duration(math.MaxInt64)
		for range 5 {
			start := time.Now()
			_ = lossAndGrads(t, c, lhs, rhs, w)
			best = min(best, time.Since(start))
		}
		return best
	}
	fixed := timeIt()
	var orig time.Duration
	withOriginalVJP(func() { orig = timeIt() })
	t.Logf("Dense %v·%v gradient, best of 5 runs: original %v, replacement %v", c.lhs, c.rhs, orig, fixed)
	if fixed > orig {
		t.Errorf("replacement slower than original: %v > %v", fixed, orig)
	}
}

func benchDenseGrad(b *testing.B, original bool) {
	c := dotCase{[]int{64, 17, 128}, []int{2}, nil, []int{128, 512}, []int{0}, nil}
	rng := rand.New(rand.NewPCG(9, 10))
	lhs, rhs := randTensor(rng, dtypes.Float32, c.lhs), randTensor(rng, dtypes.Float32, c.rhs)
	w := randTensor(rng, dtypes.Float32, []int{64, 17, 512})
	build := func() *Exec {
		e, err := NewExec(testBackend, func(lhs, rhs, w *Node) []*Node {
			loss := ReduceAllSum(Mul(DotGeneral(lhs, c.lhsC, c.lhsB, rhs, c.rhsC, c.rhsB), w))
			return Gradient(loss, lhs, rhs)
		})
		if err != nil {
			b.Fatal(err)
		}
		return e
	}
	// The graph is built (and the VJP looked up) at the first Exec: do it under the chosen registry,
	// outside the timer.
	e := build()
	defer e.Finalize()
	compile := func() {
		if _, err := e.Exec(lhs, rhs, w); err != nil {
			b.Fatal(err)
		}
	}
	if original {
		withOriginalVJP(compile)
	} else {
		compile()
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := e.Exec(lhs, rhs, w); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDenseGrad: gradient of a [64,17,128]×[128,512] Dense (a CLIP-tiny text MLP at width 128).
func BenchmarkDenseGradFixed(b *testing.B)    { benchDenseGrad(b, false) }
func BenchmarkDenseGradOriginal(b *testing.B) { benchDenseGrad(b, true) }

// TestDotAxesCheckRejects: axes that do not reproduce the node's shape must be refused (this is what
// sends a node to the original VJP if a future GoMLX changes its internal layout).
func TestDotAxesCheckRejects(t *testing.T) {
	f32 := func(d ...int) shapes.Shape { return shapes.Make(dtypes.Float32, d...) }
	lhs, rhs := f32(2, 3, 4), f32(2, 4, 5)
	good := DotAxes{LHSContracting: []int{2}, LHSBatch: []int{0}, RHSContracting: []int{1}, RHSBatch: []int{0}}
	if err := good.check(lhs, rhs, f32(2, 3, 5)); err != nil {
		t.Fatalf("good axes refused: %v", err)
	}
	for name, c := range map[string]struct {
		a   DotAxes
		out shapes.Shape
	}{
		"wrong output": {good, f32(2, 5, 3)},
		"unpaired":     {DotAxes{LHSContracting: []int{2}, RHSContracting: nil}, f32(2, 3, 2, 4, 5)},
		"out of range": {DotAxes{LHSContracting: []int{3}, RHSContracting: []int{1}}, f32(2, 3, 2, 5)},
		"repeated":     {DotAxes{LHSContracting: []int{2, 2}, RHSContracting: []int{1, 1}}, f32(2, 3, 2, 5)},
		"dims differ":  {DotAxes{LHSContracting: []int{1}, RHSContracting: []int{1}}, f32(2, 4, 2, 5)},
		"batch dims":   {DotAxes{LHSContracting: []int{2}, LHSBatch: []int{1}, RHSContracting: []int{1}, RHSBatch: []int{0}}, f32(3, 2, 2, 5)},
		"dtype":        {good, shapes.Make(dtypes.Float64, 2, 3, 5)},
	} {
		if err := c.a.check(lhs, rhs, c.out); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
