package eval

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestClassWeightsNormalisesBeforeAveraging(t *testing.T) {
	// Class 0: prompts (3,0) and (0,1): normalised first, their mean points at 45°, not towards
	// the longer prompt. Class 1: one prompt repeated, so its weight is that prompt's direction.
	prompts := mustRows(t, []float32{3, 0}, []float32{0, 1}, []float32{0, -2}, []float32{0, -5})
	w, err := ClassWeights(prompts, 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	s := float32(1 / math.Sqrt2)
	want := [][]float32{{s, s}, {0, -1}}
	for c := range 2 {
		for i, v := range w.Row(c) {
			if math.Abs(float64(v-want[c][i])) > 1e-6 {
				t.Errorf("class %d weight %v, want %v", c, w.Row(c), want[c])
				break
			}
		}
	}
	if _, err := ClassWeights(prompts, 3, 2); err == nil {
		t.Error("6 prompts expected, 4 given: no error")
	}
	if _, err := ClassWeights(prompts, 0, 4); err == nil {
		t.Error("zero classes: no error")
	}
}

func TestZeroShotKnownAnswers(t *testing.T) {
	ctx := context.Background()
	weights := basis(3, 3) // classes 0, 1, 2 along the axes
	images := mustRows(t,
		[]float32{1, 0.2, 0.1}, // class 0, right
		[]float32{0.9, 0, 0.3}, // class 0, right
		[]float32{0.2, 1, 0.5}, // labelled 0: ranked 1, 2, 0 → wrong at top-1 and top-2
		[]float32{1, 1, 0},     // labelled 1: tied with class 0 → top-1 0.5, top-2 1
		[]float32{0, 0.1, 1},   // class 2, right
	)
	labels := []int{0, 0, 0, 1, 2}
	r, err := ZeroShot(ctx, images, weights, labels, []string{"a", "b", "c"}, []int{1, 2, 5})
	if err != nil {
		t.Fatal(err)
	}
	want := map[int]AccuracyAtK{
		1: {K: 1, Accuracy: 3.5 / 5, Chance: 1.0 / 3, Majority: 3.0 / 5},
		2: {K: 2, Accuracy: 4.0 / 5, Chance: 2.0 / 3, Majority: 4.0 / 5},
		5: {K: 5, Accuracy: 1, Chance: 1, Majority: 1},
	}
	for _, a := range r.AtK {
		w := want[a.K]
		if !near(a.Accuracy, w.Accuracy) || !near(a.Chance, w.Chance) || !near(a.Majority, w.Majority) {
			t.Errorf("top-%d = %+v, want %+v", a.K, a, w)
		}
	}
	// Per class: 0 → 2/3, 1 → 0.5, 2 → 1.
	if !near(r.BalancedTop1, (2.0/3+0.5+1)/3) {
		t.Errorf("balanced top-1 %v", r.BalancedTop1)
	}
	wantPerClass := []ClassScore{{"a", 3, 2.0 / 3, 3}, {"b", 1, 0.5, 1}, {"c", 1, 1, 1}}
	for c, pc := range r.PerClass {
		w := wantPerClass[c]
		if pc.Name != w.Name || pc.Count != w.Count || !near(pc.Top1, w.Top1) || pc.Predicted != w.Predicted {
			t.Errorf("class %d: %+v, want %+v", c, pc, w)
		}
	}
	if !slices.Equal(r.Predictions, []int{0, 0, 1, 0, 2}) {
		t.Errorf("predictions %v", r.Predictions)
	}
}

func TestZeroShotCollapsedIsChance(t *testing.T) {
	const classes, images = 7, 20
	w := NewMatrix(classes, 4) // all-zero class weights: every score ties
	img := NewMatrix(images, 4)
	labels := make([]int, images)
	for i := range labels {
		labels[i] = i % classes
		img.Row(i)[i%4] = 1
	}
	r, err := ZeroShot(context.Background(), img, w, labels, nil, []int{1, 5, 10})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range r.AtK {
		if !near(a.Accuracy, a.Chance) {
			t.Errorf("top-%d %v, chance %v", a.K, a.Accuracy, a.Chance)
		}
	}
	if !near(r.BalancedTop1, 1.0/classes) {
		t.Errorf("balanced %v", r.BalancedTop1)
	}
}

func TestZeroShotPromptEnsembleEndToEnd(t *testing.T) {
	// Two classes, two templates; template 1 is uninformative (the same vector for every class),
	// so ensembling keeps the informative direction and still classifies correctly.
	prompts := mustRows(t,
		[]float32{1, 0, 0}, []float32{0, 0, 1}, // class 0: informative, generic
		[]float32{0, 1, 0}, []float32{0, 0, 1}, // class 1
	)
	w, err := ClassWeights(prompts, 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	img := mustRows(t, []float32{1, 0.1, 0.3}, []float32{0.1, 1, 0.3})
	r, err := ZeroShot(context.Background(), img, w, []int{0, 1}, nil, DefaultAccuracyKs)
	if err != nil {
		t.Fatal(err)
	}
	if r.Accuracy(1) != 1 {
		t.Errorf("top-1 %v", r.Accuracy(1))
	}
	if r.Accuracy(3) != -1 {
		t.Error("unevaluated k reported")
	}
}

func TestZeroShotErrors(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name   string
		labels []int
		names  []string
		ks     []int
		w      *Matrix
	}{
		{"label out of range", []int{0, 3}, nil, []int{1}, basis(3, 3)},
		{"negative label", []int{-1, 0}, nil, []int{1}, basis(3, 3)},
		{"label count", []int{0}, nil, []int{1}, basis(3, 3)},
		{"names count", []int{0, 1}, []string{"x"}, []int{1}, basis(3, 3)},
		{"bad k", []int{0, 1}, nil, []int{-1}, basis(3, 3)},
		{"no classes", []int{0, 1}, nil, []int{1}, &Matrix{}},
		{"dims", []int{0, 1}, nil, []int{1}, basis(3, 4)},
	}
	for _, tc := range tests {
		if _, err := ZeroShot(ctx, basis(2, 3), tc.w, tc.labels, tc.names, tc.ks); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}

func TestTemplatesAndClasses(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tpl, err := LoadTemplates(write("t.txt", "# emoji prompts\n\na {} emoji.\n  {}  \n"))
	if err != nil || !slices.Equal(tpl, []string{"a {} emoji.", "{}"}) {
		t.Fatalf("templates %q, %v", tpl, err)
	}
	if _, err := LoadTemplates(write("bad.txt", "a photo\n")); err == nil {
		t.Error("template without {} accepted")
	}
	if _, err := LoadTemplates(write("empty.txt", "# nothing\n")); err == nil {
		t.Error("empty template file accepted")
	}
	if _, err := ResolveTemplates(filepath.Join(dir, "missing")); err == nil {
		t.Error("missing template file accepted")
	}
	if got, _ := ResolveTemplates("photo"); len(got) != 7 {
		t.Errorf("photo set has %d templates", len(got))
	}
	if got := Prompts([]string{"cat", "red apple"}, []string{"{}", "a {} emoji."}); !slices.Equal(got,
		[]string{"cat", "a cat emoji.", "red apple", "a red apple emoji."}) {
		t.Errorf("prompts %q", got)
	}
	cls, err := LoadClasses(write("c.txt", "# groups\nfood-drink\tfood and drink\r\nsymbols\n\n"))
	if err != nil || !slices.Equal(cls, []Class{{"food-drink", "food and drink"}, {"symbols", "symbols"}}) {
		t.Fatalf("classes %+v, %v", cls, err)
	}
	if _, err := LoadClasses(write("dup.txt", "a\nb\na\tagain\n")); err == nil {
		t.Error("duplicate class accepted")
	}
	if _, err := LoadClasses(write("nolabel.txt", "a\n\tname only\n")); err == nil {
		t.Error("empty label accepted")
	}
	for _, set := range NamedTemplates {
		for _, s := range set {
			if Prompt(s, "x") == s {
				t.Errorf("template %q has no placeholder", s)
			}
		}
	}
}
