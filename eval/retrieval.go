package eval

import (
	"context"
	"fmt"
	"slices"
)

// Link says that image Image and text Text belong together (one row of an image–caption data set).
// An image may have several texts and a text several images: any linked candidate counts as a hit.
type Link struct{ Image, Text int }

// RecallAtK is recall@K of one retrieval direction beside the recall@K of a random ranking.
type RecallAtK struct {
	K      int     `json:"k"`
	Recall float64 `json:"recall"`
	Chance float64 `json:"chance"`
}

// Direction is the result of one retrieval direction (image→text or text→image).
type Direction struct {
	Queries    int         `json:"queries"`    // queries with at least one linked candidate
	Candidates int         `json:"candidates"` // gallery size (unlinked candidates stay in as distractors)
	AtK        []RecallAtK `json:"at_k"`
	MeanRank   float64     `json:"mean_rank"`   // expected 1-based rank of the first linked candidate
	MedianRank float64     `json:"median_rank"` // median of those ranks
	// Ranks holds each query's expected rank, indexed like the query matrix (0 for queries without
	// a linked candidate).
	Ranks []float64 `json:"-"`
}

// Recall returns recall@k, or -1 when k was not evaluated.
func (d *Direction) Recall(k int) float64 {
	for _, a := range d.AtK {
		if a.K == k {
			return a.Recall
		}
	}
	return -1
}

// RetrievalResult holds both directions of an image–text retrieval evaluation.
type RetrievalResult struct {
	Images      int       `json:"images"`
	Texts       int       `json:"texts"`
	Links       int       `json:"links"`
	ImageToText Direction `json:"image_to_text"`
	TextToImage Direction `json:"text_to_image"`
}

// DefaultRecallKs are the cut-offs CLIP's retrieval tables report.
var DefaultRecallKs = []int{1, 5, 10}

// Retrieval ranks all texts for every image and all images for every text by cosine similarity and
// reports recall@k in both directions (OpenCLIP's and the CLIP paper's retrieval protocol, extended
// to many-to-many links). A query counts as a hit at k when any linked candidate is among the first
// k; ties are broken at random in expectation (see the package doc), so equal embeddings score
// exactly chance. Embeddings need not be normalised.
func Retrieval(ctx context.Context, images, texts *Matrix, links []Link, ks []int) (*RetrievalResult, error) {
	if err := checkPair(images, texts); err != nil {
		return nil, fmt.Errorf("retrieval: %w", err)
	}
	if err := checkKs(ks); err != nil {
		return nil, fmt.Errorf("retrieval: %w", err)
	}
	imgRel := make([][]int32, images.Rows)
	txtRel := make([][]int32, texts.Rows)
	for i, l := range links {
		if l.Image < 0 || l.Image >= images.Rows || l.Text < 0 || l.Text >= texts.Rows {
			return nil, fmt.Errorf("retrieval: link %d (image %d, text %d) out of range (%d images, %d texts)", i, l.Image, l.Text, images.Rows, texts.Rows)
		}
		imgRel[l.Image] = append(imgRel[l.Image], int32(l.Text))
		txtRel[l.Text] = append(txtRel[l.Text], int32(l.Image))
	}
	dedup := func(rel [][]int32) int {
		n := 0
		for i := range rel {
			slices.Sort(rel[i])
			rel[i] = slices.Compact(rel[i])
			n += len(rel[i])
		}
		return n
	}
	res := &RetrievalResult{Images: images.Rows, Texts: texts.Rows, Links: dedup(imgRel)}
	dedup(txtRel)
	img, _ := images.Normalized()
	txt, _ := texts.Normalized()
	var err error
	if res.ImageToText, err = direction(ctx, img, txt, imgRel, ks); err != nil {
		return nil, err
	}
	if res.TextToImage, err = direction(ctx, txt, img, txtRel, ks); err != nil {
		return nil, err
	}
	return res, nil
}

// direction ranks gallery for every query that has relevant candidates.
func direction(ctx context.Context, queries, gallery *Matrix, rel [][]int32, ks []int) (Direction, error) {
	outs := make([]outcome, queries.Rows)
	err := scoreAll(ctx, queries, gallery, func(q int, scores []float32) {
		if len(rel[q]) > 0 {
			outs[q] = rankOutcome(scores, rel[q])
		}
	})
	if err != nil {
		return Direction{}, err
	}
	d := Direction{Candidates: gallery.Rows, Ranks: make([]float64, queries.Rows)}
	d.AtK = make([]RecallAtK, len(ks))
	for i, k := range ks {
		d.AtK[i].K = k
	}
	var ranks []float64
	for q, o := range outs {
		if len(rel[q]) == 0 {
			continue
		}
		d.Queries++
		d.Ranks[q] = o.rank()
		ranks = append(ranks, d.Ranks[q])
		for i, k := range ks {
			d.AtK[i].Recall += o.hit(k)
			d.AtK[i].Chance += chanceHit(k, gallery.Rows, len(rel[q]))
		}
	}
	if d.Queries > 0 {
		n := float64(d.Queries)
		for i := range d.AtK {
			d.AtK[i].Recall /= n
			d.AtK[i].Chance /= n
		}
		d.MeanRank, d.MedianRank = meanMedian(ranks)
	}
	return d, nil
}

func meanMedian(v []float64) (mean, median float64) {
	if len(v) == 0 {
		return 0, 0
	}
	var s float64
	for _, x := range v {
		s += x
	}
	slices.Sort(v)
	n := len(v)
	median = v[n/2]
	if n%2 == 0 {
		median = (v[n/2-1] + v[n/2]) / 2
	}
	return s / float64(n), median
}

func checkPair(a, b *Matrix) error {
	if err := a.Check(); err != nil {
		return fmt.Errorf("images: %w", err)
	}
	if err := b.Check(); err != nil {
		return fmt.Errorf("texts: %w", err)
	}
	if a.Rows > 0 && b.Rows > 0 && a.Dim != b.Dim {
		return fmt.Errorf("image embeddings have %d dimensions, text embeddings %d", a.Dim, b.Dim)
	}
	return nil
}

func checkKs(ks []int) error {
	if len(ks) == 0 {
		return fmt.Errorf("no k given")
	}
	for _, k := range ks {
		if k <= 0 {
			return fmt.Errorf("k must be ≥ 1, got %d", k)
		}
	}
	return nil
}
