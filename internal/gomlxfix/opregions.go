package gomlxfix

import (
	"context"
	"runtime/trace"
	"sync"

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
			defer trace.StartRegion(context.Background(), opRegionName(opName, node)).End()
			return exec(backend, node, inputs, inputsOwned)
		}
	}
}

// opRegionNames caches the region name of each node traced (reading the shape by reflection and
// formatting it for each of a step's thousands of ops would be most of the time between them).
var opRegionNames sync.Map // *simplego.Node → string

func opRegionName(opName string, node *simplego.Node) string {
	if name, ok := opRegionNames.Load(node); ok {
		return name.(string)
	}
	name := opName
	if s, ok := nodeShape(node); ok {
		name += " " + s.String()
	}
	opRegionNames.Store(node, name)
	return name
}
