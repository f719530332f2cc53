package gomlxfix

import (
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with the dot import.
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// OriginalDotGeneralVJP and OriginalDotVJP are GoMLX's own VJPs, saved before init replaces them.
// They are the fallback when the node's axes cannot be read safely, and the reference in tests.
var (
	OriginalDotGeneralVJP VJP
	OriginalDotVJP        VJP
)

// fallbacks counts how often the fast VJP had to hand a node to the original implementation.
var fallbacks atomic.Int64

// DotVJPFallbacks returns how many Dot/DotGeneral nodes were differentiated by GoMLX's original
// (slow) VJP because their axes could not be read and verified. Zero on GoMLX v0.26.0.
func DotVJPFallbacks() int64 { return fallbacks.Load() }

func init() {
	OriginalDotGeneralVJP = VJPRegistration[NodeTypeDotGeneral]
	OriginalDotVJP = VJPRegistration[NodeTypeDot]
	VJPRegistration[NodeTypeDotGeneral] = DotGeneralVJP
	VJPRegistration[NodeTypeDot] = DotVJP
}

// DotAxes describes a DotGeneral: contracting and batch axes of both operands, as in graph.DotGeneral.
type DotAxes struct {
	LHSContracting, LHSBatch, RHSContracting, RHSBatch []int
}

// DotGeneralAxes reads the axes of a DotGeneral node. GoMLX keeps them in an unexported struct
// (nodeInputsDotGeneral), so they are read by reflection (read-only, no unsafe). ok is false when the
// layout is not the expected one, or when the axes read do not reproduce the node's output shape.
func DotGeneralAxes(node *Node) (axes DotAxes, ok bool) {
	if node == nil || node.Type() != NodeTypeDotGeneral || len(node.Inputs()) != 2 {
		return axes, false
	}
	if axes, ok = dotGeneralAxesByReflection(node); ok {
		return axes, true
	}
	// Second source: the node's printed form, should the struct's fields be renamed.
	axes, err := ParseDotGeneralString(node.String())
	if err != nil || axes.check(node.Inputs()[0].Shape(), node.Inputs()[1].Shape(), node.Shape()) != nil {
		return axes, false
	}
	return axes, true
}

var dotGeneralStringRE = regexp.MustCompile(`lhsContractingAxes=\[([0-9 ]*)\], lhsBatchAxes=\[([0-9 ]*)\], ` +
	`rhs=\[#\d+\], rhsContractingAxes=\[([0-9 ]*)\], rhsBatchAxes=\[([0-9 ]*)\]`)

// ParseDotGeneralString reads the axes from a DotGeneral node's String(), e.g.
// "DotGeneral(lhs=[#3], lhsContractingAxes=[2], lhsBatchAxes=[0], rhs=[#4], rhsContractingAxes=[1], rhsBatchAxes=[0]) -> …".
func ParseDotGeneralString(s string) (DotAxes, error) {
	m := dotGeneralStringRE.FindStringSubmatch(s)
	if m == nil {
		return DotAxes{}, fmt.Errorf("not a DotGeneral description: %q", s)
	}
	lists := make([][]int, 4)
	for i := range lists {
		lists[i] = []int{}
		for _, f := range strings.Fields(m[i+1]) {
			n, err := strconv.Atoi(f)
			if err != nil {
				return DotAxes{}, fmt.Errorf("axis %q: %w", f, err)
			}
			lists[i] = append(lists[i], n)
		}
	}
	return DotAxes{LHSContracting: lists[0], LHSBatch: lists[1], RHSContracting: lists[2], RHSBatch: lists[3]}, nil
}

func dotGeneralAxesByReflection(node *Node) (axes DotAxes, ok bool) {
	v := reflect.ValueOf(node).Elem().FieldByName("inputs")
	if !v.IsValid() || v.Kind() != reflect.Interface || v.IsNil() {
		return axes, false
	}
	v = v.Elem()
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return axes, false
	}
	v = v.Elem()
	if v.Kind() != reflect.Struct {
		return axes, false
	}
	readInts := func(name string) ([]int, bool) {
		f := v.FieldByName(name)
		if !f.IsValid() || f.Kind() != reflect.Slice || f.Type().Elem().Kind() != reflect.Int {
			return nil, false
		}
		out := make([]int, f.Len())
		for i := range out {
			out[i] = int(f.Index(i).Int())
		}
		return out, true
	}
	var okLC, okLB, okRC, okRB bool
	axes.LHSContracting, okLC = readInts("lhsContractingAxes")
	axes.LHSBatch, okLB = readInts("lhsBatchAxes")
	axes.RHSContracting, okRC = readInts("rhsContractingAxes")
	axes.RHSBatch, okRB = readInts("rhsBatchAxes")
	if !okLC || !okLB || !okRC || !okRB {
		return axes, false
	}
	// The operands stored in the struct must be the node's inputs, in order.
	for name, want := range map[string]*Node{"lhs": node.Inputs()[0], "rhs": node.Inputs()[1]} {
		f := v.FieldByName(name)
		if !f.IsValid() || f.Kind() != reflect.Pointer || f.Pointer() != reflect.ValueOf(want).Pointer() {
			return axes, false
		}
	}
	if err := axes.check(node.Inputs()[0].Shape(), node.Inputs()[1].Shape(), node.Shape()); err != nil {
		return axes, false
	}
	return axes, true
}

// check verifies the axes are valid for the operands and reproduce the output shape.
func (a DotAxes) check(lhs, rhs, out shapes.Shape) error {
	if len(a.LHSContracting) != len(a.RHSContracting) || len(a.LHSBatch) != len(a.RHSBatch) {
		return fmt.Errorf("unpaired axes %+v", a)
	}
	used := func(rank int, lists ...[]int) error {
		seen := make([]bool, rank)
		for _, l := range lists {
			for _, ax := range l {
				if ax < 0 || ax >= rank || seen[ax] {
					return fmt.Errorf("axis %d invalid or repeated for rank %d", ax, rank)
				}
				seen[ax] = true
			}
		}
		return nil
	}
	if err := used(lhs.Rank(), a.LHSContracting, a.LHSBatch); err != nil {
		return err
	}
	if err := used(rhs.Rank(), a.RHSContracting, a.RHSBatch); err != nil {
		return err
	}
	for i := range a.LHSContracting {
		if lhs.Dimensions[a.LHSContracting[i]] != rhs.Dimensions[a.RHSContracting[i]] {
			return fmt.Errorf("contracting dims differ")
		}
	}
	var want []int
	for i := range a.LHSBatch {
		if lhs.Dimensions[a.LHSBatch[i]] != rhs.Dimensions[a.RHSBatch[i]] {
			return fmt.Errorf("batch dims differ")
		}
		want = append(want, lhs.Dimensions[a.LHSBatch[i]])
	}
	for _, ax := range crossAxes(lhs.Rank(), a.LHSContracting, a.LHSBatch) {
		want = append(want, lhs.Dimensions[ax])
	}
	for _, ax := range crossAxes(rhs.Rank(), a.RHSContracting, a.RHSBatch) {
		want = append(want, rhs.Dimensions[ax])
	}
	if out.DType != lhs.DType || !slices.Equal(want, out.Dimensions) {
		return fmt.Errorf("axes give dims %v, node has %s", want, out)
	}
	return nil
}

// crossAxes lists, in increasing order, the axes that are neither contracting nor batch: DotGeneral
// places them in its output in that order, after the batch axes.
func crossAxes(rank int, contracting, batch []int) []int {
	used := make([]bool, rank)
	for _, ax := range contracting {
		used[ax] = true
	}
	for _, ax := range batch {
		used[ax] = true
	}
	var out []int
	for ax := range rank {
		if !used[ax] {
			out = append(out, ax)
		}
	}
	return out
}

// DotGeneralVJP is the replacement VJP for DotGeneral: each operand's gradient is one DotGeneral of the
// output adjoint with the other operand, plus at most one transpose. GoMLX v0.26.0's VJP instead
// broadcasts both to [batch, lhsCross, rhsCross, contracting] and reduces, which costs
// O(B·T·out·in) memory for a Dense layer.
func DotGeneralVJP(node *Node, vjpOutputs []*Node, outputShape shapes.Shape) []*Node {
	axes, ok := DotGeneralAxes(node)
	if !ok || len(vjpOutputs) != 1 {
		fallbacks.Add(1)
		return OriginalDotGeneralVJP(node, vjpOutputs, outputShape)
	}
	lhs, rhs := node.Inputs()[0], node.Inputs()[1]
	return DotGeneralGradients(lhs, rhs, axes, vjpOutputs[0])
}

// DotVJP replaces the VJP of graph.Dot (used by MatMul for rank ≤ 2 operands), which also broadcasts
// to an outer product. Dot contracts lhs's last axis with rhs's first axis.
func DotVJP(node *Node, vjpOutputs []*Node, outputShape shapes.Shape) []*Node {
	in := node.Inputs()
	if len(in) != 2 || len(vjpOutputs) != 1 || in[0].Rank() < 1 || in[0].Rank() > 2 || in[1].Rank() < 1 || in[1].Rank() > 2 {
		fallbacks.Add(1)
		return OriginalDotVJP(node, vjpOutputs, outputShape)
	}
	axes := DotAxes{LHSContracting: []int{in[0].Rank() - 1}, RHSContracting: []int{0}}
	if err := axes.check(in[0].Shape(), in[1].Shape(), node.Shape()); err != nil {
		fallbacks.Add(1)
		return OriginalDotVJP(node, vjpOutputs, outputShape)
	}
	return DotGeneralGradients(in[0], in[1], axes, vjpOutputs[0])
}

// DotGeneralGradients returns d(loss)/d(lhs) and d(loss)/d(rhs) for out = DotGeneral(lhs, rhs; axes),
// given v = d(loss)/d(out), with out laid out as [batch..., lhsCross..., rhsCross...].
func DotGeneralGradients(lhs, rhs *Node, axes DotAxes, v *Node) []*Node {
	nb := len(axes.LHSBatch)
	lhsCross := crossAxes(lhs.Rank(), axes.LHSContracting, axes.LHSBatch)
	rhsCross := crossAxes(rhs.Rank(), axes.RHSContracting, axes.RHSBatch)
	vBatch := iotaFrom(0, nb)
	vLHSCross := iotaFrom(nb, len(lhsCross))
	vRHSCross := iotaFrom(nb+len(lhsCross), len(rhsCross))

	// dLHS[b, lc, k] = Σ_rc v[b, lc, rc] · rhs[b, rc, k]. Output layout: [batch, lhsCross, rhs contracting
	// axes in increasing rhs order].
	gradLHS := DotGeneral(v, vRHSCross, vBatch, rhs, rhsCross, axes.RHSBatch)
	gradLHS = toOperandLayout(gradLHS, lhs.Rank(), axes.LHSBatch, lhsCross, axes.LHSContracting, axes.RHSContracting)

	// dRHS[b, rc, k] = Σ_lc v[b, lc, rc] · lhs[b, lc, k]. Output layout: [batch, rhsCross, lhs contracting
	// axes in increasing lhs order].
	gradRHS := DotGeneral(v, vLHSCross, vBatch, lhs, lhsCross, axes.LHSBatch)
	gradRHS = toOperandLayout(gradRHS, rhs.Rank(), axes.RHSBatch, rhsCross, axes.RHSContracting, axes.LHSContracting)
	return []*Node{gradLHS, gradRHS}
}

// toOperandLayout transposes a gradient laid out as [batch, cross, contracting (ordered by the other
// operand's increasing axis)] back into the operand's own axis order.
func toOperandLayout(grad *Node, rank int, batch, cross, contracting, otherContracting []int) *Node {
	// Position of each contracting pair in the gradient: rank of the other operand's axis among its sorted contracting axes.
	sortedOther := slices.Clone(otherContracting)
	sort.Ints(sortedOther)
	perm := make([]int, rank)
	for i, ax := range batch {
		perm[ax] = i
	}
	for j, ax := range cross {
		perm[ax] = len(batch) + j
	}
	for i, ax := range contracting {
		perm[ax] = len(batch) + len(cross) + slices.Index(sortedOther, otherContracting[i])
	}
	identity := true
	for i, p := range perm {
		if i != p {
			identity = false
			break
		}
	}
	if identity {
		return grad
	}
	return TransposeAllAxes(grad, perm...)
}

func iotaFrom(start, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = start + i
	}
	return out
}
