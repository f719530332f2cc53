package inference

import (
	"os/exec"
	"strings"
	"testing"
)

// trainingOnly are import paths (and their subpackages) that inference must not pull in: the trainer
// with its optimizer, its loss plots and its progress bars.
var trainingOnly = []string{"github.com/witdata/wit/train", "gonum.org/v1/plot", "github.com/schollz/progressbar"}

// deps lists pkg and everything it imports, transitively (tests excluded), with `go list -deps`.
func deps(t *testing.T, pkg string) []string {
	t.Helper()
	goBin, err := exec.LookPath("go") // go test puts GOROOT/bin first on PATH
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(goBin, "list", "-deps", "-f", "{{.ImportPath}}", pkg).Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("go list %s: %v\n%s", pkg, err, ee.Stderr)
		}
		t.Fatalf("go list %s: %v", pkg, err)
	}
	return strings.Fields(string(out))
}

// trainingDeps returns the paths of list that are, or are under, one of trainingOnly.
func trainingDeps(list []string) []string {
	var found []string
	for _, p := range list {
		for _, bad := range trainingOnly {
			if p == bad || strings.HasPrefix(p, bad+"/") {
				found = append(found, p)
			}
		}
	}
	return found
}

// TestNoTrainingDependencies: `wit embed`, `wit score`, `wit eval` and package eval's users load
// checkpoints through this package; it and the checkpoint format must build without the trainer.
func TestNoTrainingDependencies(t *testing.T) {
	// The check itself must see what it looks for: the trainer has all three.
	got := trainingDeps(deps(t, "github.com/witdata/wit/train"))
	for _, want := range trainingOnly {
		found := false
		for _, p := range got {
			found = found || p == want || strings.HasPrefix(p, want+"/")
		}
		if !found {
			t.Fatalf("go list -deps of train does not show %s: the check below would prove nothing", want)
		}
	}
	for _, pkg := range []string{"github.com/witdata/wit/inference", "github.com/witdata/wit/checkpoint"} {
		if bad := trainingDeps(deps(t, pkg)); len(bad) > 0 {
			t.Errorf("%s depends on %s", pkg, strings.Join(bad, ", "))
		}
	}
}
