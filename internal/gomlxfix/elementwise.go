package gomlxfix

import (
	"math"
	"reflect"
	"sync/atomic"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// Once the products run on the tiles, a clip-tiny step spends most of its time in simplego's
// elementwise ops, which walk broadcasts, reductions and transposes with a per-element index
// iterator and compute sigmoid and exp in float64, on one core (negation, square roots and log
// are only moved here to be split over the cores). Under KernelFast the float32 cases
// of those ops run here instead: the operands' axes are collapsed to as few strided loops as
// possible, the innermost loop is specialised (contiguous, broadcast), and large tensors are split
// over the cores. Everything else (other dtypes, ops not listed) stays GoMLX's.

// stridedLoop iterates an output of dims in row-major order; operand j's element for output index
// idx is at Σ idx[ax]·strides[j][ax].
type stridedLoop struct {
	dims    []int
	strides [][]int
}

// collapse drops unit axes and merges neighbouring axes that every operand walks as one.
func (l *stridedLoop) collapse() {
	dims := l.dims[:0:0]
	strides := make([][]int, len(l.strides))
	for ax, d := range l.dims {
		if d == 1 {
			continue
		}
		last := len(dims) - 1
		merge := last >= 0
		for j := range l.strides {
			if merge && strides[j][last] != l.strides[j][ax]*d {
				merge = false
			}
		}
		if merge {
			dims[last] *= d
			for j := range strides {
				strides[j][last] = l.strides[j][ax]
			}
			continue
		}
		dims = append(dims, d)
		for j := range strides {
			strides[j] = append(strides[j], l.strides[j][ax])
		}
	}
	if len(dims) == 0 { // a single element
		dims = append(dims, 1)
		for j := range strides {
			strides[j] = append(strides[j], 0)
		}
	}
	l.dims, l.strides = dims, strides
}

// size is the number of output elements.
func (l *stridedLoop) size() int {
	n := 1
	for _, d := range l.dims {
		n *= d
	}
	return n
}

// minParallelElements is the size under which an elementwise op stays on one goroutine (a
// spinning worker takes a chunk within a µs, so a 16K-element op, ~10 µs, is worth splitting).
const minParallelElements = 1 << 14

// runs calls fn for each innermost run of the (collapsed) loop: the output offset of its first
// element, each operand's offset, and its length (at most the last axis; operand j then advances
// by strides[j][last]). With parallel set and a large loop, ranges of elements go to different
// goroutines, split at multiples of align elements (runs may then be cut in two); fn must then only
// write what belongs to its elements.
func (l *stridedLoop) runs(parallel bool, align int, fn func(out int, offs []int, n int)) {
	size := l.size()
	if !parallel || size < minParallelElements || size < 2*align {
		l.walk(0, size, fn)
		return
	}
	// Ranges handed out as the goroutines ask for them (a goroutine that starts late takes fewer).
	workers := defaultWorkers()
	chunks := min(4*workers, size/align)
	var next atomic.Int64
	parallelFor(min(workers, chunks), func(int) {
		for c := int(next.Add(1)) - 1; c < chunks; c = int(next.Add(1)) - 1 {
			lo, hi := size/align*c/chunks*align, size/align*(c+1)/chunks*align
			if c == chunks-1 {
				hi = size
			}
			l.walk(lo, hi, fn)
		}
	})
}

// walk calls fn for the runs of elements [lo, hi).
func (l *stridedLoop) walk(lo, hi int, fn func(out int, offs []int, n int)) {
	rank := len(l.dims)
	n := l.dims[rank-1]
	idx := make([]int, rank)
	base := make([]int, len(l.strides)) // operands' offsets at the start of the current run
	offs := make([]int, len(l.strides))
	for ax, rest := rank-2, lo/n; ax >= 0; ax-- {
		idx[ax] = rest % l.dims[ax]
		rest /= l.dims[ax]
		for j := range base {
			base[j] += idx[ax] * l.strides[j][ax]
		}
	}
	col := lo % n
	for e := lo; e < hi; {
		m := min(n-col, hi-e)
		for j := range offs {
			offs[j] = base[j] + col*l.strides[j][rank-1]
		}
		fn(e, offs, m)
		e += m
		col = 0
		for ax := rank - 2; ax >= 0; ax-- {
			idx[ax]++
			for j := range base {
				base[j] += l.strides[j][ax]
			}
			if idx[ax] < l.dims[ax] {
				break
			}
			for j := range base {
				base[j] -= l.dims[ax] * l.strides[j][ax]
			}
			idx[ax] = 0
		}
	}
}

// rowMajorStrides returns dims' row-major strides, with 0 on axes of size 1 (broadcast).
func rowMajorStrides(dims []int) []int {
	strides := make([]int, len(dims))
	s := 1
	for ax := len(dims) - 1; ax >= 0; ax-- {
		if dims[ax] != 1 {
			strides[ax] = s
		}
		s *= dims[ax]
	}
	return strides
}

// Reading simplego nodes: the output shape and the []int data of reductions, transposes and
// broadcasts are unexported fields, read by reflection (read-only).
var nodeShapeField, nodeDataField, shapeDTypeField, shapeDimsField = nodeFieldIndexes()

// nodeFieldIndexes finds the fields read below once (FieldByName costs a search per call).
func nodeFieldIndexes() (shape, data, dtype, dims int) {
	t := reflect.TypeFor[simplego.Node]()
	s, okS := t.FieldByName("shape")
	d, okD := t.FieldByName("data")
	st := reflect.TypeFor[shapes.Shape]()
	dt, okT := st.FieldByName("DType")
	dm, okM := st.FieldByName("Dimensions")
	if !okS || !okD || !okT || !okM || s.Type != st || d.Type.Kind() != reflect.Interface ||
		dt.Type.Kind() != reflect.Int32 && dt.Type.Kind() != reflect.Int || dm.Type != reflect.TypeFor[[]int]() {
		return -1, -1, -1, -1
	}
	return s.Index[0], d.Index[0], dt.Index[0], dm.Index[0]
}

// nodeShape returns a node's output shape.
func nodeShape(node *simplego.Node) (shapes.Shape, bool) {
	if node == nil || nodeShapeField < 0 {
		return shapes.Shape{}, false
	}
	s := reflect.ValueOf(node).Elem().Field(nodeShapeField)
	dims := s.Field(shapeDimsField)
	out := shapes.Shape{DType: dtypes.DType(s.Field(shapeDTypeField).Int()), Dimensions: make([]int, dims.Len())}
	for i := range out.Dimensions {
		out.Dimensions[i] = int(dims.Index(i).Int())
	}
	return out, true
}

// nodeInts returns a node's data when it is an []int (axes, permutation).
func nodeInts(node *simplego.Node) ([]int, bool) {
	if node == nil || nodeDataField < 0 {
		return nil, false
	}
	d := reflect.ValueOf(node).Elem().Field(nodeDataField)
	if d.IsNil() {
		return nil, false
	}
	d = d.Elem()
	if d.Kind() != reflect.Slice || d.Type().Elem().Kind() != reflect.Int {
		return nil, false
	}
	out := make([]int, d.Len())
	for i := range out {
		out[i] = int(d.Index(i).Int())
	}
	return out, true
}

// f32Buffer returns a float32 buffer's shape and data.
func f32Buffer(backend *simplego.Backend, b *simplego.Buffer) (shapes.Shape, []float32, bool) {
	if b == nil {
		return shapes.Shape{}, nil, false
	}
	s, err := backend.BufferShape(b)
	if err != nil || s.DType != dtypes.Float32 {
		return s, nil, false
	}
	f, ok := bufferFloats(b)
	return s, f, ok && len(f) == s.Size()
}

// outputBuffer returns a buffer for the op's output: an owned input of the output's shape is
// reused (and its slot in inputs cleared, which tells simplego the op took it), as simplego's own
// executors do.
func outputBuffer(backend *simplego.Backend, inputs []*simplego.Buffer, inputsOwned []bool, shape shapes.Shape) (*simplego.Buffer, []float32) {
	for i := len(inputs) - 1; i >= 0; i-- {
		if i >= len(inputsOwned) || !inputsOwned[i] || inputs[i] == nil {
			continue
		}
		if s, err := backend.BufferShape(inputs[i]); err == nil && s.Equal(shape) {
			out := inputs[i]
			inputs[i] = nil
			f, _ := bufferFloats(out)
			return out, f
		}
	}
	out := backend.NewBuffer(shape)
	f, _ := bufferFloats(out)
	return out, f
}

var fastOps, fastOpFallbacks atomic.Int64

// FastOps returns how many elementwise ops, reductions, transposes and broadcasts KernelFast has
// executed, and how many it handed to GoMLX's executors (other dtypes, unexpected node data).
func FastOps() (executed, fallbacks int64) { return fastOps.Load(), fastOpFallbacks.Load() }

// gomlxExecutors are simplego's executors for the ops replaced here, saved at installation.
var gomlxExecutors [backends.OpTypeLast]simplegoExecutor

// installOps puts the executors below in simplego's table, each in front of GoMLX's own.
func installOps() {
	replace := func(op backends.OpType, exec func(backend *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer, inputsOwned []bool) (*simplego.Buffer, bool)) {
		orig := simplegoExecutors[op]
		if orig == nil {
			return
		}
		gomlxExecutors[op] = orig
		simplegoExecutors[op] = func(backend *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer, inputsOwned []bool) (*simplego.Buffer, error) {
			if CurrentKernel() == KernelFast {
				if out, ok := exec(backend, node, inputs, inputsOwned); ok {
					fastOps.Add(1)
					return out, nil
				}
				fastOpFallbacks.Add(1)
			}
			return orig(backend, node, inputs, inputsOwned)
		}
	}
	for op, kind := range map[backends.OpType]binaryOp{
		backends.OpTypeAdd: opAdd, backends.OpTypeSub: opSub, backends.OpTypeMul: opMul, backends.OpTypeDiv: opDiv,
		backends.OpTypeMax: opMax, backends.OpTypeMin: opMin,
	} {
		replace(op, func(backend *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer, inputsOwned []bool) (*simplego.Buffer, bool) {
			return execBinary(kind, backend, node, inputs, inputsOwned)
		})
	}
	replace(backends.OpTypeLogistic, func(backend *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer, inputsOwned []bool) (*simplego.Buffer, bool) {
		return execUnary(sigmoidRun, backend, inputs, inputsOwned)
	})
	replace(backends.OpTypeExp, func(backend *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer, inputsOwned []bool) (*simplego.Buffer, bool) {
		return execUnary(expRun, backend, inputs, inputsOwned)
	})
	for op, run := range map[backends.OpType]func(dst, src []float32){
		backends.OpTypeNeg: negRun, backends.OpTypeSqrt: sqrtRun, backends.OpTypeRsqrt: rsqrtRun, backends.OpTypeLog: logRun,
	} {
		replace(op, func(backend *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer, inputsOwned []bool) (*simplego.Buffer, bool) {
			return execUnary(run, backend, inputs, inputsOwned)
		})
	}
	replace(backends.OpTypeReduceSum, func(backend *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer, _ []bool) (*simplego.Buffer, bool) {
		return execReduce(false, backend, node, inputs)
	})
	replace(backends.OpTypeReduceMax, func(backend *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer, _ []bool) (*simplego.Buffer, bool) {
		return execReduce(true, backend, node, inputs)
	})
	replace(backends.OpTypeTranspose, func(backend *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer, _ []bool) (*simplego.Buffer, bool) {
		return execTranspose(backend, node, inputs)
	})
	replace(backends.OpTypeBroadcastInDim, func(backend *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer, _ []bool) (*simplego.Buffer, bool) {
		return execBroadcastInDim(backend, node, inputs)
	})
}

type binaryOp int

const (
	opAdd binaryOp = iota
	opSub
	opMul
	opDiv
	opMax
	opMin
)

// execBinary computes lhs op rhs with broadcasting (equal ranks, or a single-element operand).
func execBinary(op binaryOp, backend *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer, inputsOwned []bool) (*simplego.Buffer, bool) {
	if len(inputs) != 2 {
		return nil, false
	}
	ls, a, okA := f32Buffer(backend, inputs[0])
	rs, b, okB := f32Buffer(backend, inputs[1])
	os, okO := nodeShape(node)
	if !okA || !okB || !okO || os.DType != dtypes.Float32 {
		return nil, false
	}
	rank := os.Rank()
	strideOf := func(s shapes.Shape) ([]int, bool) {
		if s.Size() == 1 {
			return make([]int, rank), true
		}
		if s.Rank() != rank {
			return nil, false
		}
		for ax, d := range s.Dimensions {
			if d != os.Dimensions[ax] && d != 1 {
				return nil, false
			}
		}
		return rowMajorStrides(s.Dimensions), true
	}
	sa, okA := strideOf(ls)
	sb, okB := strideOf(rs)
	if !okA || !okB {
		return nil, false
	}
	loop := stridedLoop{dims: append([]int(nil), os.Dimensions...), strides: [][]int{rowMajorStrides(os.Dimensions), sa, sb}}
	loop.collapse()
	out, c := outputBuffer(backend, inputs, inputsOwned, os)
	last := len(loop.dims) - 1
	da, db := loop.strides[1][last], loop.strides[2][last]
	loop.runs(true, 16, func(o int, offs []int, n int) {
		binaryRun(op, c[o:o+n], a[offs[1]:], da, b[offs[2]:], db)
	})
	return out, true
}

// binaryRun computes c[i] = a[i·da] op b[i·db] for a run; da and db are 1 (contiguous) or 0
// (broadcast). The assembly loops take what they can, binaryRunGo the rest.
func binaryRun(op binaryOp, c, a []float32, da int, b []float32, db int) {
	n := binaryRunAsm(op, c, a, da, b, db)
	if n < len(c) {
		binaryRunGo(op, c[n:], a[n*da:], da, b[n*db:], db)
	}
}

// binaryRunGo is binaryRun in Go. The Go compiler does not vectorise: each case is its own loop so
// that it at least runs without strides or bounds checks.
func binaryRunGo(op binaryOp, c, a []float32, da int, b []float32, db int) {
	n := len(c)
	switch {
	case da == 1 && db == 1:
		a, b = a[:n], b[:n]
		switch op {
		case opAdd:
			for i := range c {
				c[i] = a[i] + b[i]
			}
		case opSub:
			for i := range c {
				c[i] = a[i] - b[i]
			}
		case opMul:
			for i := range c {
				c[i] = a[i] * b[i]
			}
		case opDiv:
			for i := range c {
				c[i] = a[i] / b[i]
			}
		case opMax:
			for i := range c {
				c[i] = max32(a[i], b[i])
			}
		case opMin:
			for i := range c {
				c[i] = min32(a[i], b[i])
			}
		}
	case da == 1 && db == 0:
		a, s := a[:n], b[0]
		switch op {
		case opAdd:
			for i := range c {
				c[i] = a[i] + s
			}
		case opSub:
			for i := range c {
				c[i] = a[i] - s
			}
		case opMul:
			for i := range c {
				c[i] = a[i] * s
			}
		case opDiv:
			for i := range c {
				c[i] = a[i] / s
			}
		case opMax:
			for i := range c {
				c[i] = max32(a[i], s)
			}
		case opMin:
			for i := range c {
				c[i] = min32(a[i], s)
			}
		}
	case da == 0 && db == 1:
		s, b := a[0], b[:n]
		switch op {
		case opAdd:
			for i := range c {
				c[i] = s + b[i]
			}
		case opSub:
			for i := range c {
				c[i] = s - b[i]
			}
		case opMul:
			for i := range c {
				c[i] = s * b[i]
			}
		case opDiv:
			for i := range c {
				c[i] = s / b[i]
			}
		case opMax:
			for i := range c {
				c[i] = max32(s, b[i])
			}
		case opMin:
			for i := range c {
				c[i] = min32(s, b[i])
			}
		}
	default: // both broadcast along the run: one value
		var v float32
		x, y := a[0], b[0]
		switch op {
		case opAdd:
			v = x + y
		case opSub:
			v = x - y
		case opMul:
			v = x * y
		case opDiv:
			v = x / y
		case opMax:
			v = max32(x, y)
		case opMin:
			v = min32(x, y)
		}
		for i := range c {
			c[i] = v
		}
	}
}

// max32 and min32 follow simplego's Max and Min (and Go's max/min): NaN if either is NaN.
func max32(x, y float32) float32 { return max(x, y) }
func min32(x, y float32) float32 { return min(x, y) }

// execUnary applies run to a float32 tensor, in place when simplego owns the input.
func execUnary(run func(dst, src []float32), backend *simplego.Backend, inputs []*simplego.Buffer, inputsOwned []bool) (*simplego.Buffer, bool) {
	if len(inputs) != 1 {
		return nil, false
	}
	s, x, ok := f32Buffer(backend, inputs[0])
	if !ok {
		return nil, false
	}
	out, y := outputBuffer(backend, inputs, inputsOwned, s)
	loop := stridedLoop{dims: []int{len(x)}, strides: [][]int{{1}}}
	loop.runs(true, 16, func(o int, _ []int, n int) { run(y[o:o+n], x[o:o+n]) })
	return out, true
}

// exp32 is e^x in float32 to about 1 ulp: e^x = 2^n·e^r with n = round(x/ln 2) and |r| ≤ ln2/2,
// e^r by Cephes' expf polynomial. Outside ±87 (where 2^n or the result leaves float32's normal
// range) and for NaN it uses math.Exp.
func exp32(x float32) float32 {
	if !(x > -87 && x < 87) {
		return float32(math.Exp(float64(x)))
	}
	const magic = 12582912 // 1.5·2²³: adding it rounds to an integer in the low mantissa bits
	t := x*1.44269504088896341 + magic
	n := int32(math.Float32bits(t) - math.Float32bits(magic))
	fn := t - magic
	r := x - fn*0.693359375 - fn*-2.12194440e-4
	z := r * r
	p := ((((1.9875691500e-4*r+1.3981999507e-3)*r+8.3334519073e-3)*r+4.1665795894e-2)*r+1.6666665459e-1)*r + 5.0000001201e-1
	p = p*z + r + 1
	return p * math.Float32frombits(uint32(n+127)<<23)
}

// expRun sets dst[i] = exp32(src[i]): the assembly loop where it can, 8 at a time, exp32 for the
// groups it leaves and the remainder.
func expRun(dst, src []float32) {
	src = src[:len(dst)]
	for i := 0; i < len(dst); {
		i += expRunAsm(dst[i:], src[i:])
		end := min(i+8, len(dst))
		expRunGo(dst[i:end], src[i:end])
		i = end
	}
}

func expRunGo(dst, src []float32) {
	src = src[:len(dst)]
	for i, x := range src {
		dst[i] = exp32(x)
	}
}

// sigmoidRun is simplego's Logistic: 1/(1+e^-x) for x ≥ 0, e^x/(1+e^x) below (no overflow); as
// expRun, the assembly where it can.
func sigmoidRun(dst, src []float32) {
	src = src[:len(dst)]
	for i := 0; i < len(dst); {
		i += sigmoidRunAsm(dst[i:], src[i:])
		end := min(i+8, len(dst))
		sigmoidRunGo(dst[i:end], src[i:end])
		i = end
	}
}

func sigmoidRunGo(dst, src []float32) {
	src = src[:len(dst)]
	for i, x := range src {
		if x >= 0 {
			dst[i] = 1 / (1 + exp32(-x))
		} else {
			e := exp32(x)
			dst[i] = e / (1 + e)
		}
	}
}

// negRun, sqrtRun, rsqrtRun and logRun are simplego's formulas (in float64 where it uses float64);
// they are here to be split over the cores (Adam's square roots run over every parameter).
func negRun(dst, src []float32) {
	src = src[:len(dst)]
	for i, x := range src {
		dst[i] = -x
	}
}

func sqrtRun(dst, src []float32) {
	src = src[:len(dst)]
	for i, x := range src {
		dst[i] = float32(math.Sqrt(float64(x)))
	}
}

func rsqrtRun(dst, src []float32) {
	src = src[:len(dst)]
	for i, x := range src {
		dst[i] = float32(1 / math.Sqrt(float64(x)))
	}
}

func logRun(dst, src []float32) {
	src = src[:len(dst)]
	for i, x := range src {
		dst[i] = float32(math.Log(float64(x)))
	}
}

// execReduce sums (or takes the maximum) over the node's axes.
func execReduce(isMax bool, backend *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer) (*simplego.Buffer, bool) {
	if len(inputs) != 1 {
		return nil, false
	}
	is, x, okX := f32Buffer(backend, inputs[0])
	axes, okA := nodeInts(node)
	os, okO := nodeShape(node)
	if !okX || !okA || !okO || len(axes) == 0 || os.DType != dtypes.Float32 {
		return nil, false
	}
	rank := is.Rank()
	reduced := make([]bool, rank)
	for _, ax := range axes {
		if ax < 0 || ax >= rank || reduced[ax] {
			return nil, false
		}
		reduced[ax] = true
	}
	var keptDims []int
	for ax, d := range is.Dimensions {
		if !reduced[ax] {
			keptDims = append(keptDims, d)
		}
	}
	if !slicesEqual(keptDims, os.Dimensions) {
		return nil, false
	}
	// Loop over the input; the output's stride is 0 on reduced axes.
	outStrides := make([]int, rank)
	for ax, s := len(is.Dimensions)-1, 1; ax >= 0; ax-- {
		if !reduced[ax] {
			outStrides[ax] = s
			s *= is.Dimensions[ax]
		}
	}
	inStrides := make([]int, rank)
	for ax, s := rank-1, 1; ax >= 0; ax-- {
		inStrides[ax] = s
		s *= is.Dimensions[ax]
	}
	loop := stridedLoop{dims: append([]int(nil), is.Dimensions...), strides: [][]int{inStrides, outStrides}}
	loop.collapse()
	out := backend.NewBuffer(os)
	y, _ := bufferFloats(out)
	init := float32(0)
	if isMax {
		init = float32(math.Inf(-1))
	}
	for i := range y {
		y[i] = init
	}
	last := len(loop.dims) - 1
	// Runs may be split over goroutines only when the outermost axis is kept, at its boundaries:
	// then each goroutine owns its outputs.
	parallel := loop.strides[1][0] != 0
	align := loop.size() / loop.dims[0]
	if loop.strides[1][last] == 0 { // the innermost axis is reduced: one output per run
		loop.runs(parallel, align, func(_ int, offs []int, n int) {
			run := x[offs[0] : offs[0]+n]
			acc := y[offs[1]]
			if isMax {
				for _, v := range run {
					acc = max(acc, v)
				}
			} else {
				acc += sumRun(run)
			}
			y[offs[1]] = acc
		})
	} else { // the innermost axis is kept: a run adds a row of inputs to a row of outputs
		rowRun := func(c0, c1 int) func(_ int, offs []int, n int) {
			return func(_ int, offs []int, n int) {
				run, dst := x[offs[0]+c0:offs[0]+c1], y[offs[1]+c0:offs[1]+c1]
				if isMax {
					for i, v := range run {
						dst[i] = max(dst[i], v)
					}
				} else {
					binaryRun(opAdd, dst, dst, 1, run, 1)
				}
			}
		}
		n := loop.dims[last]
		if workers := defaultWorkers(); !parallel && loop.size() >= minParallelElements && n >= 64*workers {
			// The outer axes are summed (a bias gradient): each goroutine takes a range of columns.
			parallelFor(workers, func(w int) {
				loop.runs(false, n, rowRun(n*w/workers, n*(w+1)/workers))
			})
		} else {
			loop.runs(parallel, align, rowRun(0, n))
		}
	}
	return out, true
}

// execTranspose permutes the axes: output axis i is input axis perm[i].
func execTranspose(backend *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer) (*simplego.Buffer, bool) {
	if len(inputs) != 1 {
		return nil, false
	}
	is, x, okX := f32Buffer(backend, inputs[0])
	perm, okP := nodeInts(node)
	os, okO := nodeShape(node)
	if !okX || !okP || !okO || len(perm) != is.Rank() || os.Rank() != is.Rank() || os.DType != dtypes.Float32 {
		return nil, false
	}
	inStrides := make([]int, is.Rank())
	for ax, s := is.Rank()-1, 1; ax >= 0; ax-- {
		inStrides[ax] = s
		s *= is.Dimensions[ax]
	}
	dims, strides := make([]int, len(perm)), make([]int, len(perm))
	for i, ax := range perm {
		if ax < 0 || ax >= is.Rank() || is.Dimensions[ax] != os.Dimensions[i] {
			return nil, false
		}
		dims[i], strides[i] = os.Dimensions[i], inStrides[ax]
	}
	return gather(backend, x, os, dims, strides), true
}

// execBroadcastInDim copies the operand into a larger output: operand axis i is output axis
// axes[i] (of the same size, or 1 and repeated); the other output axes repeat it.
func execBroadcastInDim(backend *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer) (*simplego.Buffer, bool) {
	if len(inputs) != 1 {
		return nil, false
	}
	is, x, okX := f32Buffer(backend, inputs[0])
	axes, okA := nodeInts(node)
	os, okO := nodeShape(node)
	if !okX || !okA || !okO || len(axes) != is.Rank() || os.DType != dtypes.Float32 {
		return nil, false
	}
	inStrides := rowMajorStrides(is.Dimensions)
	strides := make([]int, os.Rank())
	for i, ax := range axes {
		if ax < 0 || ax >= os.Rank() || (is.Dimensions[i] != os.Dimensions[ax] && is.Dimensions[i] != 1) {
			return nil, false
		}
		strides[ax] = inStrides[i]
	}
	return gather(backend, x, os, append([]int(nil), os.Dimensions...), strides), true
}

// gather writes a new buffer of shape os whose element idx (row-major over dims) is
// x[Σ idx·strides].
func gather(backend *simplego.Backend, x []float32, os shapes.Shape, dims, strides []int) *simplego.Buffer {
	loop := stridedLoop{dims: dims, strides: [][]int{rowMajorStrides(dims), strides}}
	loop.collapse()
	out := backend.NewBuffer(os)
	y, _ := bufferFloats(out)
	d := loop.strides[1][len(loop.dims)-1]
	loop.runs(true, 16, func(o int, offs []int, n int) {
		dst := y[o : o+n]
		switch d {
		case 1:
			copy(dst, x[offs[1]:offs[1]+n])
		case 0:
			v := x[offs[1]]
			for i := range dst {
				dst[i] = v
			}
		default:
			src := x[offs[1]:]
			for i := range dst {
				dst[i] = src[i*d]
			}
		}
	})
	return out
}

func slicesEqual(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
