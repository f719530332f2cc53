package gomlxfix

import (
	"fmt"
	"os"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
)

// NoAutoInstallEnv is GoMLX's switch that stops the XLA backend (and GoMLX's test helpers) from
// downloading PJRT plugins. It is set by this package's init when absent.
const NoAutoInstallEnv = "GOMLX_NO_AUTO_INSTALL"

func init() {
	if _, set := os.LookupEnv(NoAutoInstallEnv); !set {
		_ = os.Setenv(NoAutoInstallEnv, "1")
	}
}

// SimpleGoConfig is the configuration wit gives GoMLX's pure-Go ("go") backend.
//
// With the default configuration, a graph executed alone runs its ops in parallel: each op is
// scheduled with workersPool.WaitToStart, which blocks while 2×NumCPU tasks run. Ops such as
// DotGeneral then call WaitToStart again from inside their worker and wait for those sub-tasks; on 2
// cores four DotGenerals fill the pool, each waits for a slot only it could free, and the step hangs.
//
// "ops_sequential" runs the ops one after another on the calling goroutine, so WaitToStart is only
// ever called from outside the pool and the nesting cannot form; each DotGeneral, Erf, etc. still
// splits its own work over the pool (intra-op parallelism), which is where the time goes.
// "parallelism=-1" (the workaround first found) also avoids the hang, by making the pool unbounded,
// but it spawns a goroutine per op and per batch block. See TestBackendNoDeadlockTwoCores.
const SimpleGoConfig = "ops_sequential"

// EnvBackend overrides SimpleGoConfig: WIT_GOMLX_CONFIG="ops_sequential,parallelism=2" etc. It only
// configures the pure-Go backend; the XLA backend needs the `xla` build tag (see NewXLA).
const EnvBackend = "WIT_GOMLX_CONFIG"

// NewBackend returns GoMLX's pure-Go backend configured not to deadlock (see SimpleGoConfig). It never
// creates the XLA backend, so it never tries to download a plugin.
func NewBackend() (backends.Backend, error) {
	cfg := SimpleGoConfig
	if v := os.Getenv(EnvBackend); v != "" {
		cfg = v
	}
	return NewSimpleGo(cfg)
}

// NewSimpleGo returns the pure-Go backend with an explicit configuration string (see simplego.New).
func NewSimpleGo(config string) (backends.Backend, error) {
	b, err := simplego.New(config)
	if err != nil {
		return nil, fmt.Errorf("gomlx go backend %q: %w", config, err)
	}
	return b, nil
}

// MustBackend is NewBackend for tests and main packages; it panics on error.
func MustBackend() backends.Backend {
	b, err := NewBackend()
	if err != nil {
		panic(err)
	}
	return b
}
