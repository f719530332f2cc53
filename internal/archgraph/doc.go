// Package archgraph draws wit's package graph from the imports, so docs/ARCHITECTURE.md shows
// the dependencies as they are, not as someone remembered them.
//
// The graph is read with `go list` (non-test imports, default build tags), limited to the
// module's own packages, and written between two markers in docs/ARCHITECTURE.md as a Mermaid
// diagram (transitively reduced, so an edge means "imports directly, and not only through
// another wit package") followed by a table of every direct import. TestArchitectureDoc fails
// when the document is stale; regenerate it with
//
//	go test ./internal/archgraph -update
package archgraph
