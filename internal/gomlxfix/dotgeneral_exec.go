package gomlxfix

import (
	"reflect"
	"sync/atomic"

	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

var fastDotGenerals, fastDotGeneralFallbacks atomic.Int64

// FastDotGenerals returns how many DotGenerals KernelFast has computed, and how many it handed to
// GoMLX's DotGeneral because their layout or dtype was not one it reads.
func FastDotGenerals() (computed, fallbacks int64) {
	return fastDotGenerals.Load(), fastDotGeneralFallbacks.Load()
}

// execDotGeneral replaces simplego's DotGeneral executor. Under KernelFast(Dot) it computes float32
// products whose contracting axes flatten to one stride (any batch and cross axes); everything else
// goes to GoMLX's executor. The node's output is [batch, lhsCross, rhsCross] (simplego
// reshapes it to the graph's dimensions in a separate node).
func execDotGeneral(backend *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer, inputsOwned []bool) (*simplego.Buffer, error) {
	if k := CurrentKernel(); k != KernelFast && k != KernelFastDot || len(inputs) != 2 {
		return gomlxDotGeneral(backend, node, inputs, inputsOwned)
	}
	bg, outShape, ok := planDotGeneral(backend, node, inputs)
	if !ok {
		fastDotGeneralFallbacks.Add(1)
		return gomlxDotGeneral(backend, node, inputs, inputsOwned)
	}
	out := backend.NewBuffer(outShape)
	c, ok := bufferFloats(out)
	if !ok || len(c) != outShape.Size() {
		backend.BufferFinalize(out) //nolint:errcheck // returning it to the pool cannot fail
		fastDotGeneralFallbacks.Add(1)
		return gomlxDotGeneral(backend, node, inputs, inputsOwned)
	}
	bg.c = c
	bg.run(defaultWorkers())
	fastDotGenerals.Add(1)
	return out, nil
}

// dotGeneralParams is what execDotGeneral needs of simplego's dotGeneralNodeData.
type dotGeneralParams struct {
	lhsContracting, lhsBatch, rhsContracting, rhsBatch []int
	batch, lhsCross, rhsCross, contracting             int
	outDims                                            []int
	outDType                                           dtypes.DType
}

// readDotGeneralParams reads a DotGeneral node's axes and sizes (unexported: by reflection,
// read-only) and its output shape. ok is false if the fields are not the expected ones.
func readDotGeneralParams(node *simplego.Node) (p dotGeneralParams, ok bool) {
	if node == nil {
		return p, false
	}
	v := reflect.ValueOf(node).Elem()
	data := v.FieldByName("data")
	if !data.IsValid() || data.Kind() != reflect.Interface || data.IsNil() {
		return p, false
	}
	d := data.Elem()
	if d.Kind() != reflect.Pointer || d.IsNil() || d.Elem().Kind() != reflect.Struct {
		return p, false
	}
	d = d.Elem()
	ints := func(s reflect.Value, name string) ([]int, bool) {
		f := s.FieldByName(name)
		if !f.IsValid() || f.Kind() != reflect.Slice || f.Type().Elem().Kind() != reflect.Int {
			return nil, false
		}
		out := make([]int, f.Len())
		for i := range out {
			out[i] = int(f.Index(i).Int())
		}
		return out, true
	}
	scalar := func(name string) (int, bool) {
		f := d.FieldByName(name)
		if !f.IsValid() || f.Kind() != reflect.Int {
			return 0, false
		}
		return int(f.Int()), true
	}
	oks := make([]bool, 0, 10)
	add := func(ok bool) { oks = append(oks, ok) }
	var okv bool
	p.lhsContracting, okv = ints(d, "lhsContractingAxes")
	add(okv)
	p.lhsBatch, okv = ints(d, "lhsBatchAxes")
	add(okv)
	p.rhsContracting, okv = ints(d, "rhsContractingAxes")
	add(okv)
	p.rhsBatch, okv = ints(d, "rhsBatchAxes")
	add(okv)
	p.batch, okv = scalar("batchSize")
	add(okv)
	p.lhsCross, okv = scalar("lhsCrossSize")
	add(okv)
	p.rhsCross, okv = scalar("rhsCrossSize")
	add(okv)
	p.contracting, okv = scalar("contractingSize")
	add(okv)
	shape := v.FieldByName("shape")
	if !shape.IsValid() || shape.Type() != reflect.TypeFor[shapes.Shape]() {
		return p, false
	}
	p.outDims, okv = ints(shape, "Dimensions")
	add(okv)
	p.outDType = dtypes.DType(shape.FieldByName("DType").Int())
	for _, ok := range oks {
		if !ok {
			return p, false
		}
	}
	return p, true
}

// operandView is a DotGeneral operand read as batch × cross × contracting: one stride for the
// contracting axes, one for the innermost run of cross axes that flattens to one stride (outer
// cross axes, if any, and batch axes keep their own).
type operandView struct {
	crossSize, crossStride       int // the inner run of cross axes
	contractSize, contractStride int
	outerDims, outerStrides      []int // cross axes outside the inner run
	batchDims, batchStrides      []int
}

// viewOperand groups an operand's axes. ok is false when its contracting axes do not flatten to a
// single stride (they would need a transposed copy).
func viewOperand(dims, contracting, batch []int) (v operandView, ok bool) {
	rank := len(dims)
	strides := make([]int, rank)
	kind := make([]byte, rank) // 0 cross, 'c' contracting, 'b' batch
	stride := 1
	for ax := rank - 1; ax >= 0; ax-- {
		strides[ax] = stride
		stride *= dims[ax]
	}
	for _, ax := range contracting {
		if ax < 0 || ax >= rank || kind[ax] != 0 {
			return v, false
		}
		kind[ax] = 'c'
	}
	for _, ax := range batch {
		if ax < 0 || ax >= rank || kind[ax] != 0 {
			return v, false
		}
		kind[ax] = 'b'
		v.batchDims = append(v.batchDims, dims[ax])
		v.batchStrides = append(v.batchStrides, strides[ax])
	}
	var cross []int
	for ax := range rank {
		if kind[ax] == 0 {
			cross = append(cross, ax)
		}
	}
	// The longest tail of the cross axes that flattens is the matrix's rows; the rest loop outside.
	inner := 0
	for inner < len(cross) {
		if _, _, ok := flatten(dims, strides, cross[inner:]); ok {
			break
		}
		inner++
	}
	for _, ax := range cross[:inner] {
		v.outerDims = append(v.outerDims, dims[ax])
		v.outerStrides = append(v.outerStrides, strides[ax])
	}
	v.crossSize, v.crossStride, _ = flatten(dims, strides, cross[inner:])
	v.contractSize, v.contractStride, ok = flatten(dims, strides, contracting)
	return v, ok
}

// flatten returns the size of the axes taken together in the given order (row-major) and the
// stride of the flattened index, if one stride reaches every element.
func flatten(dims, strides, axes []int) (size, stride int, ok bool) {
	size, last := 1, -1
	for _, ax := range axes {
		size *= dims[ax]
		if dims[ax] == 1 {
			continue // unit axes do not move
		}
		if last >= 0 && strides[last] != strides[ax]*dims[ax] {
			return 0, 0, false
		}
		last = ax
	}
	if last < 0 {
		return size, 0, true
	}
	return size, strides[last], true
}

// planDotGeneral prepares a DotGeneral node's product, or ok=false for GoMLX's executor.
func planDotGeneral(backend *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer) (bg batchedGemm, outShape shapes.Shape, ok bool) {
	p, ok := readDotGeneralParams(node)
	if !ok || p.outDType != dtypes.Float32 {
		return bg, outShape, false
	}
	lhsShape, errL := backend.BufferShape(inputs[0])
	rhsShape, errR := backend.BufferShape(inputs[1])
	lhs, okL := bufferFloats(inputs[0])
	rhs, okR := bufferFloats(inputs[1])
	if errL != nil || errR != nil || !okL || !okR || len(lhs) != lhsShape.Size() || len(rhs) != rhsShape.Size() {
		return bg, outShape, false
	}
	lv, okL := viewOperand(lhsShape.Dimensions, p.lhsContracting, p.lhsBatch)
	rv, okR := viewOperand(rhsShape.Dimensions, p.rhsContracting, p.rhsBatch)
	if !okL || !okR || len(lv.batchDims) != len(rv.batchDims) {
		return bg, outShape, false
	}
	batch := 1
	for i, d := range lv.batchDims {
		if rv.batchDims[i] != d {
			return bg, outShape, false
		}
		batch *= d
	}
	lhsOuter, rhsOuter := batchOffsets(lv.outerDims, lv.outerStrides), batchOffsets(rv.outerDims, rv.outerStrides)
	m, n := len(lhsOuter)*lv.crossSize, len(rhsOuter)*rv.crossSize
	if batch != p.batch || m != p.lhsCross || n != p.rhsCross ||
		lv.contractSize != p.contracting || rv.contractSize != p.contracting ||
		len(p.outDims) != 3 || p.outDims[0] != batch || p.outDims[1] != m || p.outDims[2] != n ||
		batch == 0 || m == 0 || n == 0 {
		return bg, outShape, false
	}
	// One product per batch element and outer cross index of each side: lhs's outer index picks a
	// block of output rows, rhs's a block of output columns.
	bg = batchedGemm{
		m: lv.crossSize, n: rv.crossSize, k: p.contracting,
		a: lhs, sam: lv.crossStride, sak: lv.contractStride,
		b: rhs, sbn: rv.crossStride, sbk: rv.contractStride,
		ldc: n,
	}
	lhsBatch, rhsBatch := batchOffsets(lv.batchDims, lv.batchStrides), batchOffsets(rv.batchDims, rv.batchStrides)
	for i := range batch {
		for mo, lo := range lhsOuter {
			for no, ro := range rhsOuter {
				bg.aOffs = append(bg.aOffs, lhsBatch[i]+lo)
				bg.bOffs = append(bg.bOffs, rhsBatch[i]+ro)
				bg.cOffs = append(bg.cOffs, i*m*n+mo*lv.crossSize*n+no*rv.crossSize)
			}
		}
	}
	bg.batch = len(bg.aOffs)
	return bg, shapes.Make(dtypes.Float32, batch, m, n), true
}

// batchOffsets lists the flat offset of each batch element (row-major over the batch axes).
func batchOffsets(dims, strides []int) []int {
	offs := []int{0}
	for i := len(dims) - 1; i >= 0; i-- {
		next := make([]int, 0, len(offs)*dims[i])
		for j := range dims[i] {
			for _, o := range offs {
				next = append(next, o+j*strides[i])
			}
		}
		offs = next
	}
	return offs
}
