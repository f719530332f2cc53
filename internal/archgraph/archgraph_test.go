package archgraph

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/witdata/wit/internal/atomicfile"
)

var update = flag.Bool("update", false, "rewrite docs/ARCHITECTURE.md's package graph")

func TestReduced(t *testing.T) {
	g := Graph{"a": {"b", "c"}, "b": {"c"}, "c": nil, "d": {"c"}}
	red := g.Reduced()
	tests := map[string][]string{"a": {"b"}, "b": {"c"}, "c": {}, "d": {"c"}}
	for p, want := range tests {
		if !slices.Equal(red[p], want) {
			t.Errorf("Reduced()[%s] = %v, want %v", p, red[p], want)
		}
	}
}

func TestReplace(t *testing.T) {
	doc := "intro\n" + BeginMarker + "\nold\n" + EndMarker + "\noutro\n"
	got, err := Replace(doc, BeginMarker+"\nnew\n"+EndMarker)
	if err != nil {
		t.Fatal(err)
	}
	if want := "intro\n" + BeginMarker + "\nnew\n" + EndMarker + "\noutro\n"; got != want {
		t.Errorf("Replace = %q, want %q", got, want)
	}
	if _, err := Replace("no markers", "x"); err == nil {
		t.Error("Replace without markers: no error")
	}
}

// TestArchitectureDoc fails when docs/ARCHITECTURE.md's generated package graph differs from the
// imports; -update rewrites it.
func TestArchitectureDoc(t *testing.T) {
	g, err := Load(context.Background(), ".")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := g["cmd/wit"]; !ok {
		t.Fatalf("go list found no cmd/wit among %d packages", len(g))
	}
	path := filepath.Join("..", "..", "docs", "ARCHITECTURE.md")
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want, err := Replace(string(doc), g.Markdown())
	if err != nil {
		t.Fatal(err)
	}
	if want == string(doc) {
		return
	}
	if *update {
		if err := atomicfile.WriteFile(path, []byte(want)); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("%s is stale: run `go test ./internal/archgraph -update`", path)
}
