package gomlxfix

import (
	"fmt"
	"math/rand/v2"
	"os"
	"regexp"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// withKernel runs fn with kernel k selected.
func withKernel(k Kernel, fn func()) {
	defer SetKernel(SetKernel(k))
	fn()
}

// dotGeneral executes one DotGeneral of case c on backend be.
func dotGeneral(t testing.TB, be backends.Backend, c dotCase, lhs, rhs *tensors.Tensor) *tensors.Tensor {
	t.Helper()
	e, err := NewExec(be, func(l, r *Node) *Node { return DotGeneral(l, c.lhsC, c.lhsB, r, c.rhsC, c.rhsB) })
	if err != nil {
		t.Fatal(err)
	}
	defer e.Finalize()
	lhs, err = lhs.LocalClone() // a tensor binds to one backend: a copy for each
	if err != nil {
		t.Fatal(err)
	}
	if rhs, err = rhs.LocalClone(); err != nil {
		t.Fatal(err)
	}
	out, err := e.Exec(lhs, rhs)
	if err != nil {
		t.Fatalf("%s: %v", c, err)
	}
	return out[0]
}

// kernelCases are dotCases plus products large enough for GoMLX's blocked path and for several
// k and n blocks of the fast kernel, with sizes that are not multiples of 32, 16 or 6.
var kernelCases = append(append([]dotCase(nil), dotCases...),
	dotCase{[]int{2, 37, 128}, []int{2}, nil, []int{128, 200}, []int{0}, nil},                       // Dense, 74 rows
	dotCase{[]int{2, 37, 200}, []int{0, 1}, nil, []int{2, 37, 128}, []int{0, 1}, nil},               // Dense weight gradient
	dotCase{[]int{3, 37, 4, 32}, []int{3}, []int{0, 2}, []int{3, 37, 4, 32}, []int{3}, []int{0, 2}}, // q·kᵀ per head
	dotCase{[]int{3, 4, 37, 37}, []int{3}, []int{0, 1}, []int{3, 37, 4, 32}, []int{1}, []int{0, 2}}, // probs·v
	dotCase{[]int{100, 300}, []int{1}, nil, []int{300, 1100}, []int{0}, nil},                        // 2 k blocks, 2 n blocks
	dotCase{[]int{70, 90}, []int{0}, nil, []int{50, 70}, []int{1}, nil},                             // both transposed
	dotCase{[]int{5, 33, 65}, []int{1}, []int{0}, []int{5, 33, 47}, []int{1}, []int{0}},             // batched, k-major
	dotCase{[]int{2, 3, 50, 40}, []int{1, 3}, []int{0}, []int{2, 40, 60, 3}, []int{3, 1}, []int{0}}, // contracting order ≠ memory order
	dotCase{[]int{64, 30, 48}, []int{1}, nil, []int{30, 64}, []int{0}, nil},                         // lhs cross axes 0 and 2: row blocks
	dotCase{[]int{30, 20}, []int{0}, nil, []int{7, 30, 40}, []int{1}, nil},                          // rhs cross axes 0 and 2: column blocks
	dotCase{[]int{3, 10, 4, 20}, []int{1}, []int{2}, []int{5, 10, 4, 6}, []int{1}, []int{2}},        // both, and a batch axis
)

// TestDotGeneralKernelsAgree computes every case with each kernel and compares with GoMLX's own:
// KernelFast on the configured backend, KernelBlock on a backend that sends every product down
// GoMLX's blocked path (so the block kernel sees every shape). float32 goes through the kernels;
// float64 is handed to GoMLX (counted as a fallback) and must give GoMLX's result.
func TestDotGeneralKernelsAgree(t *testing.T) {
	large, err := NewSimpleGo(SimpleGoConfig + ",dotgeneral_large")
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(31, 32))
	for _, asm := range tilePaths() {
		withTiles(asm, func() {
			for _, dtype := range []dtypes.DType{dtypes.Float32, dtypes.Float64} {
				for _, c := range kernelCases {
					lhs, rhs := randTensor(rng, dtype, c.lhs), randTensor(rng, dtype, c.rhs)
					var want *tensors.Tensor
					withKernel(KernelGoMLX, func() { want = dotGeneral(t, testBackend, c, lhs, rhs) })
					scale := 1 + maxAbs(want)
					for _, run := range []struct {
						kernel Kernel
						be     backends.Backend
					}{{KernelFast, testBackend}, {KernelBlock, large}} {
						computed, fallbacks := FastDotGenerals()
						builds := blockKernelBuilds.Load()
						var got *tensors.Tensor
						withKernel(run.kernel, func() { got = dotGeneral(t, run.be, c, lhs, rhs) })
						name := fmt.Sprintf("%s %s %s %s", asm, run.kernel, dtype, c)
						if d := maxAbsDiff(t, got, want) / scale; d > 1e-5 {
							t.Errorf("%s: differs from GoMLX's kernel by %g", name, d)
						}
						c2, f2 := FastDotGenerals()
						switch {
						case run.kernel == KernelFast && dtype == dtypes.Float64 && f2 != fallbacks+1:
							t.Errorf("%s: not handed to GoMLX", name)
						case run.kernel == KernelFast && dtype == dtypes.Float32 && c2+f2 != computed+fallbacks+1:
							t.Errorf("%s: fast kernel neither computed nor handed over (%d, %d)", name, c2-computed, f2-fallbacks)
						case run.kernel == KernelBlock && dtype == dtypes.Float32 && blockKernelBuilds.Load() != builds+1:
							t.Errorf("%s: block kernel not used", name)
						case run.kernel == KernelBlock && (c2 != computed || f2 != fallbacks):
							t.Errorf("%s: fast kernel ran under KernelBlock", name)
						}
					}
				}
			}
		})
	}
}

// TestFastDotGeneralFallbacks: layouts whose contracting axes do not flatten to one stride go to
// GoMLX's DotGeneral (and give its result, checked above); the others do not.
func TestFastDotGeneralFallbacks(t *testing.T) {
	rng := rand.New(rand.NewPCG(33, 34))
	for _, c := range []struct {
		c        dotCase
		fallback bool
	}{
		{dotCase{[]int{2, 3, 50, 40}, []int{1, 3}, []int{0}, []int{2, 40, 60, 3}, []int{3, 1}, []int{0}}, true},
		{dotCase{[]int{64, 30, 48}, []int{1}, nil, []int{30, 64}, []int{0}, nil}, false},
		{dotCase{[]int{64, 30, 48}, []int{1}, nil, []int{30}, []int{0}, nil}, false},
		{dotCase{[]int{2, 3, 4}, []int{2, 1}, nil, []int{4, 3, 5}, []int{0, 1}, nil}, true},
		{dotCase{[]int{8, 37, 64}, []int{2}, nil, []int{64, 96}, []int{0}, nil}, false},
		{dotCase{[]int{8, 37, 96}, []int{0, 1}, nil, []int{8, 37, 64}, []int{0, 1}, nil}, false},
		{dotCase{[]int{8, 37, 4, 16}, []int{3}, []int{0, 2}, []int{8, 37, 4, 16}, []int{3}, []int{0, 2}}, false},
	} {
		lhs, rhs := randTensor(rng, dtypes.Float32, c.c.lhs), randTensor(rng, dtypes.Float32, c.c.rhs)
		_, before := FastDotGenerals()
		withKernel(KernelFast, func() { dotGeneral(t, testBackend, c.c, lhs, rhs) })
		_, after := FastDotGenerals()
		if got := after > before; got != c.fallback {
			t.Errorf("%s: fallback %v, want %v", c.c, got, c.fallback)
		}
	}
}

// TestDenseGradientsKernels: a Dense layer's output and its gradients (the products training runs:
// x·W, v·Wᵀ, xᵀ·v) agree between the kernels.
func TestDenseGradientsKernels(t *testing.T) {
	c := dotCase{[]int{8, 37, 128}, []int{2}, nil, []int{128, 96}, []int{0}, nil}
	rng := rand.New(rand.NewPCG(35, 36))
	x, w := randTensor(rng, dtypes.Float32, c.lhs), randTensor(rng, dtypes.Float32, c.rhs)
	v := randTensor(rng, dtypes.Float32, []int{8, 37, 96})
	var want []*tensors.Tensor
	withKernel(KernelGoMLX, func() { want = lossAndGrads(t, c, x, w, v) })
	for _, k := range []Kernel{KernelFast, KernelBlock} {
		for _, asm := range tilePaths() {
			var got []*tensors.Tensor
			withTiles(asm, func() { withKernel(k, func() { got = lossAndGrads(t, c, x, w, v) }) })
			for i := range want {
				if d := maxAbsDiff(t, got[i], want[i]) / (1 + maxAbs(want[i])); d > 1e-5 {
					t.Errorf("%s/%s: output %d (loss, dx, dW) differs by %g", k, asm, i, d)
				}
			}
		}
	}
}

func TestParseKernel(t *testing.T) {
	for _, k := range []Kernel{KernelFast, KernelFastDot, KernelBlock, KernelGoMLX} {
		if got, err := ParseKernel(k.String()); err != nil || got != k {
			t.Errorf("ParseKernel(%q) = %v, %v", k, got, err)
		}
	}
	if _, err := ParseKernel("blas"); err == nil {
		t.Error("ParseKernel accepted an unknown name")
	}
	if !kernelsInstalled {
		t.Fatal("kernels not installed in simplego's tables")
	}
}

// TestGoMLXVersionPinned: the go:linkname declarations describe GoMLX gomlxVersion's tables; a
// go.mod requiring another version must come with them checked again (and gomlxVersion raised).
// Test binaries carry no dependency versions, so go.mod is read.
func TestGoMLXVersionPinned(t *testing.T) {
	mod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^\s*github\.com/gomlx/gomlx ` + regexp.QuoteMeta(gomlxVersion) + `\b`).Match(mod) {
		t.Errorf("go.mod does not require github.com/gomlx/gomlx %s, the version kernel.go's linknames describe", gomlxVersion)
	}
	if v, ok := moduleVersion("github.com/gomlx/gomlx"); ok && v != gomlxVersion {
		t.Errorf("GoMLX %s in the build, want %s", v, gomlxVersion)
	}
	if hasAsmTiles && DefaultKernel() != KernelFast {
		t.Errorf("default kernel %s on a CPU with AVX2/FMA", DefaultKernel())
	}
}

func FuzzParseKernel(f *testing.F) {
	for _, s := range []string{"fast", "fastdot", "block", "gomlx", "", "FAST", "gomlx "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParseKernel(s)
		if err != nil {
			return
		}
		if k.String() != s {
			t.Fatalf("ParseKernel(%q) = %v, which prints as %q", s, k, k.String())
		}
	})
}
