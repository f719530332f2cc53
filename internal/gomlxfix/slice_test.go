package gomlxfix

import (
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// TestSliceVJP differentiates unit-stride slices on the pure-Go backend (the original VJP needs Pad,
// which it lacks) and checks the gradient against its definition: w scattered back into zeros.
func TestSliceVJP(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	x := randTensor(rng, dtypes.Float64, []int{3, 5, 4})
	cases := []struct {
		name  string
		specs func() []SliceAxisSpec
		lo    [3]int
		hi    [3]int
	}{
		{"class token", func() []SliceAxisSpec { return []SliceAxisSpec{AxisRange(), AxisElem(0), AxisRange()} }, [3]int{0, 0, 0}, [3]int{3, 1, 4}},
		{"middle", func() []SliceAxisSpec { return []SliceAxisSpec{AxisRange(1, 2), AxisRange(1, 4), AxisRange(2)} }, [3]int{1, 1, 2}, [3]int{2, 4, 4}},
		{"whole", func() []SliceAxisSpec { return nil }, [3]int{0, 0, 0}, [3]int{3, 5, 4}},
	}
	before := SliceVJPFallbacks()
	for _, c := range cases {
		e, err := NewExec(testBackend, func(x *Node) []*Node {
			s := Slice(x, c.specs()...)
			w := IotaFull(x.Graph(), s.Shape())
			loss := ReduceAllSum(Mul(s, AddScalar(w, 1)))
			return Gradient(loss, x)
		})
		if err != nil {
			t.Fatal(err)
		}
		out, err := e.Exec(x)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		got := tensors.MustCopyFlatData[float64](out[0])
		k := 0.0
		for i := range 3 {
			for j := range 5 {
				for l := range 4 {
					want := 0.0
					if i >= c.lo[0] && i < c.hi[0] && j >= c.lo[1] && j < c.hi[1] && l >= c.lo[2] && l < c.hi[2] {
						k++
						want = k
					}
					if g := got[(i*5+j)*4+l]; g != want {
						t.Fatalf("%s: grad[%d,%d,%d]=%g want %g", c.name, i, j, l, g, want)
					}
				}
			}
		}
		e.Finalize()
	}
	if n := SliceVJPFallbacks() - before; n != 0 {
		t.Errorf("%d slices fell back to the Pad-based VJP", n)
	}
}
