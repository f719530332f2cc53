package optim

import (
	"math"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
)

func TestCosineWarmup(t *testing.T) {
	s := CosineWarmup{Peak: 1e-3, Min: 1e-5, Warmup: 10, Total: 100}
	if got := s.LR(0); math.Abs(got-1e-4) > 1e-12 {
		t.Errorf("LR(0)=%g", got)
	}
	if got := s.LR(9); math.Abs(got-1e-3) > 1e-12 {
		t.Errorf("LR(9)=%g", got)
	}
	if got := s.LR(10); math.Abs(got-1e-3) > 1e-12 {
		t.Errorf("LR(10)=%g", got)
	}
	if got := s.LR(55); math.Abs(got-(1e-5+0.5*(1e-3-1e-5))) > 1e-12 {
		t.Errorf("LR(55)=%g", got)
	}
	if got := s.LR(100); math.Abs(got-1e-5) > 1e-12 {
		t.Errorf("LR(100)=%g", got)
	}
	if got := s.LR(500); math.Abs(got-1e-5) > 1e-12 {
		t.Errorf("LR(500)=%g (past the end)", got)
	}
	// The graph version matches the host version.
	e := MustNewExec(testBackend, func(step *Node) *Node { return s.Graph(step) })
	for _, st := range []int64{0, 3, 9, 10, 11, 50, 99, 100, 150} {
		got := e.MustExec1(float64(st)).Value().(float64)
		if math.Abs(got-s.LR(st)) > 1e-12 {
			t.Errorf("graph LR(%d)=%g host %g", st, got, s.LR(st))
		}
	}
}
