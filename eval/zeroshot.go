package eval

import (
	"context"
	"fmt"
	"slices"
)

// ClassWeights builds the zero-shot classifier from the text embeddings of every (class, template)
// prompt, class-major (rows c·templates … c·templates+templates−1 belong to class c): each class's
// weight is the mean of its L2-normalised prompt embeddings, renormalised — the prompt ensembling
// of the CLIP paper (§3.1.4) and OpenAI's zero-shot notebook.
func ClassWeights(prompts *Matrix, classes, templates int) (*Matrix, error) {
	if err := prompts.Check(); err != nil {
		return nil, fmt.Errorf("class weights: %w", err)
	}
	if classes <= 0 || templates <= 0 || prompts.Rows != classes*templates {
		return nil, fmt.Errorf("class weights: %d prompt embeddings for %d classes × %d templates", prompts.Rows, classes, templates)
	}
	norm, _ := prompts.Normalized()
	w := NewMatrix(classes, prompts.Dim)
	for c := range classes {
		row := w.Row(c)
		for t := range templates {
			for i, v := range norm.Row(c*templates + t) {
				row[i] += v
			}
		}
		normalize(row) // the mean's direction: dividing by templates first changes nothing after this
	}
	return w, nil
}

// AccuracyAtK is top-K accuracy beside two baselines: Chance (a random ranking of the classes,
// K/classes) and Majority (always answering the K most frequent classes of the evaluated labels).
type AccuracyAtK struct {
	K        int     `json:"k"`
	Accuracy float64 `json:"accuracy"`
	Chance   float64 `json:"chance"`
	Majority float64 `json:"majority"`
}

// ClassScore is one class's share of a zero-shot evaluation.
type ClassScore struct {
	Name      string  `json:"name,omitempty"`
	Count     int     `json:"count"`     // images labelled with this class
	Top1      float64 `json:"top1"`      // their top-1 accuracy (ties in expectation)
	Predicted int     `json:"predicted"` // images whose best class is this one (ties go to the lowest index)
}

// ZeroShotResult is the outcome of zero-shot classification.
type ZeroShotResult struct {
	Images  int           `json:"images"`
	Classes int           `json:"classes"`
	AtK     []AccuracyAtK `json:"at_k"`
	// BalancedTop1 is the mean over classes with images of their top-1 accuracy (mean per-class
	// recall), so that a frequent class cannot carry the score; its chance level is 1/classes.
	BalancedTop1 float64      `json:"balanced_top1"`
	PerClass     []ClassScore `json:"per_class"`
	// Predictions holds each image's best class (ties to the lowest index).
	Predictions []int `json:"-"`
}

// Accuracy returns top-k accuracy, or -1 when k was not evaluated.
func (r *ZeroShotResult) Accuracy(k int) float64 {
	for _, a := range r.AtK {
		if a.K == k {
			return a.Accuracy
		}
	}
	return -1
}

// DefaultAccuracyKs are the cut-offs of CLIP's zero-shot tables.
var DefaultAccuracyKs = []int{1, 5}

// ZeroShot classifies every image by the cosine similarity of its embedding with each class weight
// (from ClassWeights) and scores the ranking against labels (class indices, one per image). Ties are
// broken at random in expectation, so a collapsed model scores exactly chance. names, when not nil,
// labels PerClass.
func ZeroShot(ctx context.Context, images, weights *Matrix, labels []int, names []string, ks []int) (*ZeroShotResult, error) {
	if err := checkPair(images, weights); err != nil {
		return nil, fmt.Errorf("zero-shot: %w", err)
	}
	if err := checkKs(ks); err != nil {
		return nil, fmt.Errorf("zero-shot: %w", err)
	}
	classes := weights.Rows
	if classes == 0 {
		return nil, fmt.Errorf("zero-shot: no classes")
	}
	if len(labels) != images.Rows {
		return nil, fmt.Errorf("zero-shot: %d labels for %d images", len(labels), images.Rows)
	}
	if names != nil && len(names) != classes {
		return nil, fmt.Errorf("zero-shot: %d names for %d classes", len(names), classes)
	}
	rel := make([][]int32, images.Rows)
	for i, l := range labels {
		if l < 0 || l >= classes {
			return nil, fmt.Errorf("zero-shot: image %d has label %d, outside [0,%d)", i, l, classes)
		}
		rel[i] = []int32{int32(l)}
	}
	img, _ := images.Normalized()
	w, _ := weights.Normalized()
	outs := make([]outcome, images.Rows)
	pred := make([]int, images.Rows)
	err := scoreAll(ctx, img, w, func(q int, scores []float32) {
		outs[q] = rankOutcome(scores, rel[q])
		pred[q] = argmax(scores)
	})
	if err != nil {
		return nil, err
	}

	res := &ZeroShotResult{Images: images.Rows, Classes: classes, Predictions: pred, PerClass: make([]ClassScore, classes)}
	for c := range res.PerClass {
		if names != nil {
			res.PerClass[c].Name = names[c]
		}
	}
	res.AtK = make([]AccuracyAtK, len(ks))
	for i, k := range ks {
		res.AtK[i] = AccuracyAtK{K: k, Chance: float64(min(k, classes)) / float64(classes)}
	}
	for q, o := range outs {
		pc := &res.PerClass[labels[q]]
		pc.Count++
		pc.Top1 += o.hit(1)
		res.PerClass[pred[q]].Predicted++
		for i, k := range ks {
			res.AtK[i].Accuracy += o.hit(k)
		}
	}
	// Majority baseline: the k most frequent classes of these labels, answered for every image.
	counts := make([]int, classes)
	for c := range res.PerClass {
		counts[c] = res.PerClass[c].Count
	}
	slices.SortFunc(counts, func(a, b int) int { return b - a })
	present := 0
	for c := range res.PerClass {
		pc := &res.PerClass[c]
		if pc.Count > 0 {
			present++
			pc.Top1 /= float64(pc.Count)
			res.BalancedTop1 += pc.Top1
		}
	}
	if present > 0 {
		res.BalancedTop1 /= float64(present)
	}
	if n := float64(images.Rows); n > 0 {
		for i := range res.AtK {
			res.AtK[i].Accuracy /= n
			top := 0
			for _, c := range counts[:min(res.AtK[i].K, classes)] {
				top += c
			}
			res.AtK[i].Majority = float64(top) / n
		}
	}
	return res, nil
}

func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}
