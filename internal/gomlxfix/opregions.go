package gomlxfix

import (
	"context"
	"runtime/trace"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
)

// traceOps wraps every executor in simplego's table so that, while an execution trace runs
// (runtime/trace), each executed op is a trace region named "OpType shape" (internal/parprof
// charges idle cores to them; `go tool trace` shows them). Without a trace the wrapper costs one
// atomic load per op.
func traceOps() {
	for op, exec := range simplegoExecutors {
		if exec == nil {
			continue
		}
		opName := backends.OpType(op).String()
		simplegoExecutors[op] = func(backend *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer, inputsOwned []bool) (*simplego.Buffer, error) {
			if !trace.IsEnabled() {
				return exec(backend, node, inputs, inputsOwned)
			}
			name := opName
			if s, ok := nodeShape(node); ok {
				name += " " + s.String()
			}
			defer trace.StartRegion(context.Background(), name).End()
			return exec(backend, node, inputs, inputsOwned)
		}
	}
}
