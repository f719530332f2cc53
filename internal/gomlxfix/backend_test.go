package gomlxfix

import (
	"math/rand/v2"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
)

// wideGraph has many independent DotGenerals (and their gradients) that the parallel executor would
// start at once: the pattern that exhausts simplego's worker pool on 2 cores.
func wideGraph(x, w *Node) []*Node {
	var outs []*Node
	total := ScalarZero(x.Graph(), x.DType())
	for i := range 8 {
		y := DotGeneral(MulScalar(x, float64(i+1)), []int{2}, []int{0}, w, []int{1}, []int{0})
		total = Add(total, ReduceAllSum(Tanh(y)))
	}
	outs = append(outs, total)
	return append(outs, Gradient(total, x, w)...)
}

// runWide executes wideGraph on backend and reports whether it finished within limit.
func runWide(t *testing.T, backend backends.Backend, limit time.Duration) bool {
	t.Helper()
	rng := rand.New(rand.NewPCG(11, 12))
	x := randTensor(rng, dtypes.Float32, []int{8, 64, 96})
	w := randTensor(rng, dtypes.Float32, []int{8, 96, 96})
	done := make(chan error, 1)
	go func() {
		e, err := NewExec(backend, wideGraph)
		if err != nil {
			done <- err
			return
		}
		for range 3 {
			if _, err = e.Exec(x, w); err != nil {
				break
			}
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
		return true
	case <-time.After(limit):
		return false
	}
}

// TestBackendNoDeadlockTwoCores runs a real graph on the configured backend with GOMAXPROCS=2 under a
// timeout. (The worker pool sizes itself from runtime.NumCPU, 2 on the target machine.)
func TestBackendNoDeadlockTwoCores(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	for _, cfg := range []string{SimpleGoConfig, "parallelism=-1"} {
		b, err := NewSimpleGo(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if !runWide(t, b, 60*time.Second) {
			t.Fatalf("config %q: graph did not finish in 60 s (deadlock?)", cfg)
		}
	}
}

// TestBackendDefaultConfigDeadlock documents the defect the configuration avoids. It is opt-in
// (WIT_SHOW_DEADLOCK=1) because it leaves blocked goroutines behind when the defect shows.
func TestBackendDefaultConfigDeadlock(t *testing.T) {
	if os.Getenv("WIT_SHOW_DEADLOCK") == "" {
		t.Skip("set WIT_SHOW_DEADLOCK=1 to run GoMLX's default pure-Go configuration (hangs on 2 cores)")
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	b, err := NewSimpleGo("")
	if err != nil {
		t.Fatal(err)
	}
	if runWide(t, b, 20*time.Second) {
		t.Logf("default config finished on NumCPU=%d: no deadlock here", runtime.NumCPU())
	} else {
		t.Logf("default config hung for 20 s on NumCPU=%d (the defect)", runtime.NumCPU())
	}
}

func TestNoAutoInstallSet(t *testing.T) {
	if os.Getenv(NoAutoInstallEnv) == "" {
		t.Fatalf("%s not set", NoAutoInstallEnv)
	}
	if !HasXLA {
		if _, err := NewXLA("/nonexistent/plugin.so"); err == nil {
			t.Fatal("NewXLA succeeded in a build without the xla tag")
		}
	}
}

// BenchmarkMatMulConfigs compares the pure-Go backend's bare matmul throughput under the candidate
// configurations: go test ./internal/gomlxfix -run - -bench MatMulConfigs -benchtime 5x
func BenchmarkMatMulConfigs(b *testing.B) {
	const n = 512
	for _, cfg := range []string{SimpleGoConfig, "parallelism=-1", "ops_sequential,parallelism=-1"} {
		be, err := NewSimpleGo(cfg)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(cfg, func(b *testing.B) {
			x := randTensor(rand.New(rand.NewPCG(1, 1)), dtypes.Float32, []int{n, n}) // tensors bind to one backend
			e := MustNewExec(be, func(a, c *Node) *Node { return DotGeneral(a, []int{1}, nil, c, []int{0}, nil) })
			e.MustExec(x, x)
			b.ResetTimer()
			for b.Loop() {
				e.MustExec(x, x)
			}
			b.ReportMetric(2*float64(n*n*n)/(b.Elapsed().Seconds()/float64(b.N))/1e9, "GFLOP/s")
		})
	}
}
