package gomlxfix

import (
	"reflect"
	"sync/atomic"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// OriginalSliceVJP is GoMLX's Slice VJP. It pads the adjoint with graph.Pad, which the pure-Go backend
// does not implement, so a differentiated Slice fails there at execution time.
var OriginalSliceVJP VJP

var sliceFallbacks atomic.Int64

// SliceVJPFallbacks counts Slice nodes handed to the original (Pad-based) VJP: strided slices, or
// nodes whose parameters could not be read and verified.
func SliceVJPFallbacks() int64 { return sliceFallbacks.Load() }

func init() {
	OriginalSliceVJP = VJPRegistration[NodeTypeSlice]
	VJPRegistration[NodeTypeSlice] = SliceVJP
}

// sliceParams reads starts/limits/strides of a Slice node by reflection and checks that they
// reproduce the node's shape.
func sliceParams(node *Node) (starts, limits, strides []int, ok bool) {
	if node == nil || node.Type() != NodeTypeSlice || len(node.Inputs()) != 1 {
		return nil, nil, nil, false
	}
	v := reflect.ValueOf(node).Elem().FieldByName("inputs")
	if !v.IsValid() || v.Kind() != reflect.Interface || v.IsNil() {
		return nil, nil, nil, false
	}
	v = v.Elem()
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return nil, nil, nil, false
	}
	v = v.Elem()
	read := func(name string) []int {
		f := v.FieldByName(name)
		if !f.IsValid() || f.Kind() != reflect.Slice || f.Type().Elem().Kind() != reflect.Int {
			return nil
		}
		out := make([]int, f.Len())
		for i := range out {
			out[i] = int(f.Index(i).Int())
		}
		return out
	}
	starts, limits, strides = read("starts"), read("limits"), read("strides")
	x := node.Inputs()[0].Shape()
	if len(starts) != x.Rank() || len(limits) != x.Rank() || len(strides) != x.Rank() {
		return nil, nil, nil, false
	}
	for ax := range x.Rank() {
		st := max(strides[ax], 1)
		if starts[ax] < 0 || limits[ax] > x.Dimensions[ax] || starts[ax] > limits[ax] {
			return nil, nil, nil, false
		}
		if (limits[ax]-starts[ax]+st-1)/st != node.Shape().Dimensions[ax] {
			return nil, nil, nil, false
		}
	}
	return starts, limits, strides, true
}

// SliceVJP writes the adjoint of a unit-stride Slice as a concatenation of zeros around the incoming
// adjoint, axis by axis, so it needs no Pad. Strided slices go to the original VJP.
func SliceVJP(node *Node, vjpOutputs []*Node, outputShape shapes.Shape) []*Node {
	starts, limits, strides, ok := sliceParams(node)
	if ok {
		for _, s := range strides {
			if s > 1 {
				ok = false
			}
		}
	}
	if !ok || len(vjpOutputs) != 1 {
		sliceFallbacks.Add(1)
		return OriginalSliceVJP(node, vjpOutputs, outputShape)
	}
	x := node.Inputs()[0]
	g := x.Graph()
	grad := vjpOutputs[0]
	for ax := range x.Rank() {
		before, after := starts[ax], x.Shape().Dimensions[ax]-limits[ax]
		if before == 0 && after == 0 {
			continue
		}
		parts := make([]*Node, 0, 3)
		if before > 0 {
			dims := grad.Shape().Clone()
			dims.Dimensions[ax] = before
			parts = append(parts, Zeros(g, dims))
		}
		parts = append(parts, grad)
		if after > 0 {
			dims := grad.Shape().Clone()
			dims.Dimensions[ax] = after
			parts = append(parts, Zeros(g, dims))
		}
		grad = Concatenate(parts, ax)
	}
	return []*Node{grad}
}
