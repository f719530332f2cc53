package gomlxfix

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// opsCase is one graph of elementwise ops to run under KernelFast and KernelGoMLX.
type opsCase struct {
	name   string
	inputs [][]int // shapes; nil is a scalar
	fn     func(in []*Node) *Node
}

func binaryCases() []opsCase {
	ops := map[string]func(a, b *Node) *Node{"Add": Add, "Sub": Sub, "Mul": Mul, "Div": Div, "Max": Max, "Min": Min}
	pairs := [][2][]int{
		{{3, 4, 5}, {3, 4, 5}}, {{3, 4, 5}, {1, 1, 5}}, {{3, 4, 5}, {3, 4, 1}}, {{1, 4, 1}, {3, 1, 5}},
		{{3, 4, 5}, nil}, {nil, {3, 4, 5}}, {nil, nil}, {{1, 1}, {7, 9}},
		{{64, 37, 128}, {1, 1, 128}}, {{64, 37, 128}, {64, 37, 1}}, {{64, 37, 128}, {64, 37, 128}}, // split over cores
		{{8, 4, 37, 37}, {1, 1, 37, 37}}, {{8, 1, 37, 1}, {8, 4, 37, 37}},
	}
	var cases []opsCase
	for name, op := range ops {
		for _, p := range pairs {
			cases = append(cases, opsCase{fmt.Sprintf("%s%v%v", name, p[0], p[1]), [][]int{p[0], p[1]},
				func(in []*Node) *Node { return op(in[0], in[1]) }})
		}
	}
	return cases
}

func otherOpsCases() []opsCase {
	var cases []opsCase
	for _, dims := range [][]int{{7}, {3, 4, 5}, {64, 37, 512}} {
		cases = append(cases,
			opsCase{fmt.Sprintf("Neg%v", dims), [][]int{dims}, func(in []*Node) *Node { return Neg(in[0]) }},
			opsCase{fmt.Sprintf("Sqrt%v", dims), [][]int{dims}, func(in []*Node) *Node { return Sqrt(Abs(in[0])) }},
			opsCase{fmt.Sprintf("Rsqrt%v", dims), [][]int{dims}, func(in []*Node) *Node { return Rsqrt(Abs(in[0])) }},
			opsCase{fmt.Sprintf("LogAbs%v", dims), [][]int{dims}, func(in []*Node) *Node { return Log(Abs(in[0])) }},
			opsCase{fmt.Sprintf("Exp%v", dims), [][]int{dims}, func(in []*Node) *Node { return Exp(in[0]) }},
			opsCase{fmt.Sprintf("Logistic%v", dims), [][]int{dims}, func(in []*Node) *Node { return Sigmoid(in[0]) }})
	}
	for _, c := range []struct {
		dims []int
		axes [][]int
	}{
		{[]int{4, 5, 6, 7}, [][]int{{3}, {0}, {1, 2}, {0, 3}, {0, 2}, {1, 3}, {0, 1, 2, 3}}},
		{[]int{64, 37, 128}, [][]int{{2}, {0, 1}, {1}}},
		{[]int{8, 4, 37, 37}, [][]int{{3}}},
	} {
		for _, axes := range c.axes {
			cases = append(cases,
				opsCase{fmt.Sprintf("ReduceSum%v%v", c.dims, axes), [][]int{c.dims}, func(in []*Node) *Node { return ReduceSum(in[0], axes...) }},
				opsCase{fmt.Sprintf("ReduceMax%v%v", c.dims, axes), [][]int{c.dims}, func(in []*Node) *Node { return ReduceMax(in[0], axes...) }})
		}
	}
	for _, c := range []struct {
		dims []int
		perm []int
	}{
		{[]int{3, 4}, []int{1, 0}}, {[]int{2, 3, 4, 5}, []int{0, 2, 1, 3}}, {[]int{2, 3, 4, 5}, []int{3, 2, 1, 0}},
		{[]int{64, 37, 4, 32}, []int{0, 2, 1, 3}}, {[]int{2368, 128}, []int{1, 0}},
	} {
		cases = append(cases, opsCase{fmt.Sprintf("Transpose%v%v", c.dims, c.perm), [][]int{c.dims},
			func(in []*Node) *Node { return TransposeAllAxes(in[0], c.perm...) }})
	}
	for _, c := range []struct{ from, to []int }{
		{[]int{5}, []int{3, 4, 5}}, {[]int{1, 4, 1}, []int{3, 4, 5}}, {nil, []int{6, 7}}, {[]int{37, 128}, []int{64, 37, 128}},
	} {
		cases = append(cases, opsCase{fmt.Sprintf("Broadcast%v%v", c.from, c.to), [][]int{c.from},
			func(in []*Node) *Node {
				x := in[0]
				for x.Rank() < len(c.to) {
					x = InsertAxes(x, 0)
				}
				return BroadcastToDims(x, c.to...)
			}})
	}
	return cases
}

// specialFloats are mixed into inputs: exp and sigmoid's range limits, infinities, NaN.
var specialFloats = []float64{0, -0.0, 1e-30, 80, 86.9, 87.1, 88.7, 89, 100, -80, -86.9, -87.1, -100, -104, math.Inf(1), math.Inf(-1), math.NaN()}

func opsInput(rng *rand.Rand, dtype dtypes.DType, dims []int, special bool) *tensors.Tensor {
	t := randTensor(rng, dtype, dims)
	if !special {
		return t
	}
	if dtype == dtypes.Float32 {
		tensors.MustMutableFlatData(t, func(f []float32) {
			for i := range f {
				f[i] *= 8
				if i < len(f)/2 {
					f[i] = float32(specialFloats[i%len(specialFloats)])
				}
			}
		})
	}
	return t
}

func runOps(t *testing.T, c opsCase, inputs []*tensors.Tensor) *tensors.Tensor {
	t.Helper()
	e, err := NewExec(testBackend, func(in []*Node) *Node { return c.fn(in) })
	if err != nil {
		t.Fatal(err)
	}
	defer e.Finalize()
	args := make([]any, len(inputs))
	for i, in := range inputs {
		args[i] = in
	}
	out, err := e.Exec(args...)
	if err != nil {
		t.Fatalf("%s: %v", c.name, err)
	}
	return out[0]
}

// TestFastOpsMatchGoMLX runs each op (broadcasts of every kind, scalars, tensors large enough to
// be split over the cores, reductions over each axis set, transposes) under KernelFast and GoMLX's
// executors. Arithmetic, copies and maxima give the same floats, sums the same up to the order of
// addition; exp and sigmoid (a float32 polynomial against GoMLX's float64 math.Exp) agree to 1e-6
// relative, NaN and infinities included.
// float64 inputs go to GoMLX's executors.
func TestFastOpsMatchGoMLX(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	for _, c := range append(binaryCases(), otherOpsCases()...) {
		for _, dtype := range []dtypes.DType{dtypes.Float32, dtypes.Float64} {
			special := strings.HasPrefix(c.name, "Exp") || strings.HasPrefix(c.name, "Logistic")
			inputs := make([]*tensors.Tensor, len(c.inputs))
			for i, dims := range c.inputs {
				inputs[i] = opsInput(rng, dtype, dims, special)
			}
			var want, got *tensors.Tensor
			withKernel(KernelGoMLX, func() { want = runOps(t, c, inputs) })
			executed, fallbacks := FastOps()
			withKernel(KernelFast, func() { got = runOps(t, c, inputs) })
			e2, f2 := FastOps()
			if dtype == dtypes.Float32 && e2 == executed {
				t.Errorf("%s: no op ran under KernelFast", c.name)
			}
			if dtype == dtypes.Float64 && (e2 != executed || f2 == fallbacks) {
				t.Errorf("%s float64: %d ops ran under KernelFast, %d handed to GoMLX", c.name, e2-executed, f2-fallbacks)
			}
			if !got.Shape().Equal(want.Shape()) {
				t.Fatalf("%s %s: shape %s, want %s", c.name, dtype, got.Shape(), want.Shape())
			}
			tol, abs := 0.0, 0.0
			switch {
			case special:
				tol = 1e-6
			case strings.HasPrefix(c.name, "ReduceSum") && dtype == dtypes.Float32:
				abs = 1e-5 * math.Sqrt(float64(inputs[0].Shape().Size())) // summed in another order
			}
			g, w := toFloat64(got), toFloat64(want)
			for i := range w {
				same := g[i] == w[i] || math.IsNaN(g[i]) && math.IsNaN(w[i]) || math.Abs(g[i]-w[i]) <= tol*math.Abs(w[i])+abs
				if !same {
					t.Errorf("%s %s: element %d = %g, GoMLX %g", c.name, dtype, i, g[i], w[i])
					break
				}
			}
		}
	}
}

// TestExp32 compares exp32 with math.Exp over float32's whole useful range.
func TestExp32(t *testing.T) {
	worst := 0.0
	for x := float32(-104); x < 89; x += 0.00731 {
		got, want := float64(exp32(x)), math.Exp(float64(x))
		if want > math.MaxFloat32 {
			if !math.IsInf(got, 1) {
				t.Fatalf("exp32(%g) = %g, want +Inf", x, got)
			}
			continue
		}
		if want < 1.2e-38 { // subnormal results come from math.Exp: exact to float32 rounding
			if got != float64(float32(want)) {
				t.Fatalf("exp32(%g) = %g, want %g", x, got, float32(want))
			}
			continue
		}
		rel := math.Abs(got-want) / want
		worst = max(worst, rel)
		if rel > 3e-7 {
			t.Fatalf("exp32(%g) = %g, want %g (rel. %g)", x, got, want, rel)
		}
	}
	for _, x := range []float32{float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN())} {
		if got, want := exp32(x), float32(math.Exp(float64(x))); got != want && !(got != got && want != want) {
			t.Errorf("exp32(%g) = %g, want %g", x, got, want)
		}
	}
	t.Logf("max relative error %.3g (float32 ulp is 1.19e-7 relative at most)", worst)
}

// TestStridedLoopCollapse: axes that every operand walks contiguously merge; broadcasts split them.
func TestStridedLoopCollapse(t *testing.T) {
	for _, c := range []struct {
		dims    []int
		strides [][]int
		want    string
	}{
		{[]int{2, 3, 4}, [][]int{{12, 4, 1}, {12, 4, 1}}, "[24] [[1] [1]]"},
		{[]int{2, 3, 4}, [][]int{{12, 4, 1}, {0, 0, 1}}, "[6 4] [[4 1] [0 1]]"},
		{[]int{2, 1, 4}, [][]int{{4, 4, 1}, {4, 0, 1}}, "[8] [[1] [1]]"},
		{[]int{1, 1}, [][]int{{1, 1}, {0, 0}}, "[1] [[0] [0]]"},
		{[]int{2, 3, 4}, [][]int{{12, 4, 1}, {1, 8, 2}}, "[2 12] [[12 1] [1 2]]"},
		{[]int{2, 3, 4}, [][]int{{12, 4, 1}, {1, 9, 2}}, "[2 3 4] [[12 4 1] [1 9 2]]"},
	} {
		l := stridedLoop{dims: c.dims, strides: c.strides}
		l.collapse()
		if got := fmt.Sprint(l.dims, l.strides); got != c.want {
			t.Errorf("collapse(%v, %v) = %s, want %s", c.dims, c.strides, got, c.want)
		}
	}
}

// TestElementwiseAsmMatchesGo compares the assembly loops with the Go ones on runs of every length
// up to 100 (remainders of 8 and 16), all operand modes, and inputs with exp's special values.
func TestElementwiseAsmMatchesGo(t *testing.T) {
	if !hasAsmTiles {
		t.Skip("no AVX2/FMA assembly in this build or CPU")
	}
	rng := rand.New(rand.NewPCG(43, 44))
	defer func(prev bool) { useAsmOps = prev }(useAsmOps)
	same := func(x, y float32, tol float64) bool {
		return x == y || x != x && y != y || math.Abs(float64(x-y)) <= tol*math.Abs(float64(y))
	}
	for n := range 101 {
		a, b := randFloats(rng, n+1), randFloats(rng, n+1)
		for i := range a {
			if rng.IntN(4) == 0 {
				a[i] = float32(specialFloats[rng.IntN(len(specialFloats))]) * float32(1+rng.Float64())
			}
			a[i] *= 10
		}
		for op := opAdd; op <= opMin; op++ {
			for _, mode := range [][2]int{{1, 1}, {1, 0}, {0, 1}, {0, 0}} {
				want, got := make([]float32, n), make([]float32, n)
				useAsmOps = false
				binaryRun(op, want, a, mode[0], b, mode[1])
				useAsmOps = true
				binaryRun(op, got, a, mode[0], b, mode[1])
				for i := range want {
					if !same(got[i], want[i], 0) {
						t.Fatalf("binary op %d mode %v n=%d: [%d] = %g, Go %g", op, mode, n, i, got[i], want[i])
					}
				}
			}
		}
		for name, run := range map[string]func(dst, src []float32){"exp": expRun, "sigmoid": sigmoidRun} {
			want, got := make([]float32, n), make([]float32, n)
			useAsmOps = false
			run(want, a[:n])
			useAsmOps = true
			run(got, a[:n])
			for i := range want {
				if !same(got[i], want[i], 3e-7) {
					t.Fatalf("%s n=%d: %s(%g) = %g, Go %g", name, n, name, a[i], got[i], want[i])
				}
			}
		}
	}
}

// TestStridedLoopRuns: the runs of any element range, and of the split over goroutines, visit each
// output element once with the operand offsets of a plain row-major walk.
func TestStridedLoopRuns(t *testing.T) {
	rng := rand.New(rand.NewPCG(45, 46))
	for trial := range 300 {
		rank := 1 + rng.IntN(4)
		dims := make([]int, rank)
		for i := range dims {
			dims[i] = 1 + rng.IntN(9)
		}
		if trial%10 == 0 { // large enough to be split over goroutines
			rank = min(rank, 2)
			dims = dims[:rank]
			dims[rank-1] = 40000
		}
		strides := rowMajorStrides(dims)
		other := make([]int, rank)
		for i := range other {
			other[i] = rng.IntN(5) * 100
		}
		l := stridedLoop{dims: dims, strides: [][]int{strides, other}}
		size := l.size()
		want := make([]int, size) // offset of operand 1 for each output element
		for e := range size {
			rest := e
			for ax := rank - 1; ax >= 0; ax-- {
				want[e] += rest % dims[ax] * other[ax]
				rest /= dims[ax]
			}
		}
		got := make([]int, size)
		seen := make([]int32, size)
		check := func(out int, offs []int, n int) {
			for i := range n {
				got[out+i] = offs[1] + i*other[rank-1]
				seen[out+i]++
				if offs[0]+i*strides[rank-1] != out+i && dims[rank-1] > 1 {
					t.Fatalf("trial %d: output offset %d at element %d", trial, offs[0]+i, out+i)
				}
			}
		}
		if trial%2 == 0 {
			lo := rng.IntN(size + 1)
			hi := lo + rng.IntN(size-lo+1)
			l.walk(lo, hi, check)
			for e := range size {
				if inRange := e >= lo && e < hi; inRange != (seen[e] == 1) || inRange && got[e] != want[e] {
					t.Fatalf("trial %d dims %v walk(%d, %d): element %d seen %d offset %d want %d", trial, dims, lo, hi, e, seen[e], got[e], want[e])
				}
			}
			continue
		}
		var mu sync.Mutex
		l.runs(true, 16, func(out int, offs []int, n int) {
			mu.Lock()
			defer mu.Unlock()
			check(out, offs, n)
		})
		for e := range size {
			if seen[e] != 1 || got[e] != want[e] {
				t.Fatalf("trial %d dims %v: element %d seen %d offset %d want %d", trial, dims, e, seen[e], got[e], want[e])
			}
		}
	}
}

// TestSumRun compares sumRun with a float64 sum on every length up to 100.
func TestSumRun(t *testing.T) {
	rng := rand.New(rand.NewPCG(47, 48))
	for n := range 101 {
		x := randFloats(rng, n)
		want := 0.0
		for _, v := range x {
			want += float64(v)
		}
		if got := float64(sumRun(x)); math.Abs(got-want) > 1e-5*(1+math.Sqrt(float64(n))) {
			t.Fatalf("n=%d: sumRun %g, want %g", n, got, want)
		}
	}
}
