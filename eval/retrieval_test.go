package eval

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
)

const eps = 1e-9

func near(a, b float64) bool { return math.Abs(a-b) < eps }

// basis returns n one-hot rows of dimension dim.
func basis(n, dim int) *Matrix {
	m := NewMatrix(n, dim)
	for i := range n {
		m.Row(i)[i] = 1
	}
	return m
}

func oneToOne(n int) []Link {
	l := make([]Link, n)
	for i := range l {
		l[i] = Link{i, i}
	}
	return l
}

func mustRows(t *testing.T, rows ...[]float32) *Matrix {
	t.Helper()
	m, err := MatrixFromRows(rows)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestRetrievalKnownAnswers(t *testing.T) {
	ctx := context.Background()
	// binom(n, k) for chance levels written out by hand below.
	tests := []struct {
		name          string
		images, texts *Matrix
		links         []Link
		i2t, t2i      map[int]float64 // k -> recall
		i2tRank       float64
		t2iRank       float64
	}{
		{
			name:   "perfect one-to-one",
			images: basis(4, 4), texts: basis(4, 4), links: oneToOne(4),
			i2t: map[int]float64{1: 1, 5: 1}, t2i: map[int]float64{1: 1, 5: 1},
			i2tRank: 1, t2iRank: 1,
		},
		{
			// Scales must not matter (cosine), and the texts are shifted by one: image i's best text
			// is text i-1; its own text ties at 0 with the other two unrelated ones.
			name:   "shifted: one above, own caption tied with two",
			images: mustRows(t, []float32{2, 0, 0, 0}, []float32{0, 3, 0, 0}, []float32{0, 0, 4, 0}, []float32{0, 0, 0, 5}),
			texts:  mustRows(t, []float32{0, 1, 0, 0}, []float32{0, 0, 1, 0}, []float32{0, 0, 0, 1}, []float32{1, 0, 0, 0}),
			links:  oneToOne(4),
			// k=1: nothing left for the tied group. k=2: one slot for a group of 3 holding 1 relevant: 1/3.
			// k=3: 1 - (2/3)(1/2) = 2/3.
			i2t: map[int]float64{1: 0, 2: 1.0 / 3, 3: 2.0 / 3, 4: 1},
			t2i: map[int]float64{1: 0, 2: 1.0 / 3, 3: 2.0 / 3, 4: 1},
			// rank = 1 above + 1 + 2 tied irrelevant/(1+1) = 3
			i2tRank: 3, t2iRank: 3,
		},
		{
			// Two images, two captions each (COCO-style): image 0 ~ texts 0,1; image 1 ~ texts 2,3.
			// Text 1 is closer to image 1 than to image 0, so image 0 ranks text 1 below text 0
			// (still a hit), and text 1 retrieves image 1 first (a miss at k=1).
			name:   "several captions per image",
			images: mustRows(t, []float32{1, 0}, []float32{0, 1}),
			texts:  mustRows(t, []float32{1, 0.1}, []float32{0.4, 1}, []float32{0.1, 1}, []float32{0.2, 1}),
			links:  []Link{{0, 0}, {0, 1}, {1, 2}, {1, 3}},
			// image 0 scores texts: t0 .995, t1 .371, t2 .0995, t3 .196 -> t0 first: hit.
			// image 1 scores: t0 .0995, t1 .928, t2 .995, t3 .981 -> t2 first: hit.
			i2t:     map[int]float64{1: 1},
			i2tRank: 1,
			// texts: t0 -> img0 hit; t1 -> img1 (miss, rank 2); t2, t3 -> img1 hit.
			t2i:     map[int]float64{1: 0.75, 2: 1},
			t2iRank: (1 + 2 + 1 + 1) / 4.0,
		},
		{
			name:   "collapsed model: all embeddings equal",
			images: mustRows(t, []float32{1, 1}, []float32{1, 1}, []float32{1, 1}, []float32{1, 1}, []float32{1, 1}),
			texts:  mustRows(t, []float32{2, 2}, []float32{2, 2}, []float32{2, 2}, []float32{2, 2}, []float32{2, 2}),
			links:  oneToOne(5),
			i2t:    map[int]float64{1: 0.2, 2: 0.4, 5: 1, 10: 1}, t2i: map[int]float64{1: 0.2, 3: 0.6},
			i2tRank: 3, t2iRank: 3, // 1 + 4/2
		},
		{
			name:   "zero embeddings tie with everything",
			images: NewMatrix(4, 3), texts: NewMatrix(4, 3), links: oneToOne(4),
			i2t: map[int]float64{1: 0.25, 2: 0.5}, t2i: map[int]float64{1: 0.25},
			i2tRank: 2.5, t2iRank: 2.5,
		},
		{
			// An unlinked text is a distractor for image queries but not a query itself.
			name:   "unlinked distractor outranks",
			images: mustRows(t, []float32{1, 0}, []float32{0, 1}),
			texts:  mustRows(t, []float32{1, 0.5}, []float32{0, 1}, []float32{1, 0}),
			links:  []Link{{0, 0}, {1, 1}},
			i2t:    map[int]float64{1: 0.5, 2: 1}, t2i: map[int]float64{1: 1},
			i2tRank: 1.5, t2iRank: 1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var ks []int
			for k := range tc.i2t {
				ks = append(ks, k)
			}
			for k := range tc.t2i {
				if !slices.Contains(ks, k) {
					ks = append(ks, k)
				}
			}
			slices.Sort(ks)
			r, err := Retrieval(ctx, tc.images, tc.texts, tc.links, ks)
			if err != nil {
				t.Fatal(err)
			}
			for k, want := range tc.i2t {
				if got := r.ImageToText.Recall(k); !near(got, want) {
					t.Errorf("image→text R@%d = %v, want %v", k, got, want)
				}
			}
			for k, want := range tc.t2i {
				if got := r.TextToImage.Recall(k); !near(got, want) {
					t.Errorf("text→image R@%d = %v, want %v", k, got, want)
				}
			}
			if !near(r.ImageToText.MeanRank, tc.i2tRank) {
				t.Errorf("image→text mean rank %v, want %v", r.ImageToText.MeanRank, tc.i2tRank)
			}
			if !near(r.TextToImage.MeanRank, tc.t2iRank) {
				t.Errorf("text→image mean rank %v, want %v", r.TextToImage.MeanRank, tc.t2iRank)
			}
		})
	}
}

func TestRetrievalCollapsedEqualsChance(t *testing.T) {
	// Several images per text (a class-like query): 6 images, text 0 linked to 3 of them, text 1 to 1.
	images := NewMatrix(6, 2)
	texts := NewMatrix(2, 2)
	for i := range images.Data {
		images.Data[i] = 1
	}
	for i := range texts.Data {
		texts.Data[i] = 1
	}
	links := []Link{{0, 0}, {1, 0}, {2, 0}, {3, 1}}
	r, err := Retrieval(context.Background(), images, texts, links, []int{1, 2, 3})
	if err != nil {
		t.Fatal(err)
	}
	// Chance for c relevant of n at k: 1 - C(n-c,k)/C(n,k).
	// text 0 (c=3, n=6): k=1 1/2, k=2 1-3/15=4/5, k=3 1-1/20=19/20; text 1 (c=1): k/6.
	want := map[int]float64{1: (0.5 + 1.0/6) / 2, 2: (0.8 + 2.0/6) / 2, 3: (0.95 + 0.5) / 2}
	for _, a := range r.TextToImage.AtK {
		if !near(a.Recall, want[a.K]) || !near(a.Chance, want[a.K]) {
			t.Errorf("R@%d = %v chance %v, want both %v", a.K, a.Recall, a.Chance, want[a.K])
		}
	}
	if r.TextToImage.Queries != 2 || r.ImageToText.Queries != 4 || r.Links != 4 {
		t.Errorf("queries %d/%d links %d", r.TextToImage.Queries, r.ImageToText.Queries, r.Links)
	}
}

// naiveRank sorts the candidates and returns the 1-based position of the first relevant one (valid
// without ties).
func naiveRank(q []float32, gallery *Matrix, rel []int) int {
	idx := make([]int, gallery.Rows)
	score := make([]float64, gallery.Rows)
	for j := range idx {
		idx[j] = j
		score[j] = Cosine(q, gallery.Row(j))
	}
	sort.Slice(idx, func(a, b int) bool { return score[idx[a]] > score[idx[b]] })
	for pos, j := range idx {
		if slices.Contains(rel, j) {
			return pos + 1
		}
	}
	return -1
}

func TestRetrievalMatchesNaiveSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const nImg, nTxt, dim = 37, 91, 8 // not multiples of the query block
	images, texts := NewMatrix(nImg, dim), NewMatrix(nTxt, dim)
	for i := range images.Data {
		images.Data[i] = float32(rng.NormFloat64())
	}
	for i := range texts.Data {
		texts.Data[i] = float32(rng.NormFloat64())
	}
	var links []Link
	imgRel, txtRel := make([][]int, nImg), make([][]int, nTxt)
	for j := range nTxt - 5 { // the last 5 texts are unlinked distractors
		i := rng.IntN(nImg)
		links = append(links, Link{i, j})
		imgRel[i] = append(imgRel[i], j)
		txtRel[j] = append(txtRel[j], i)
	}
	ks := []int{1, 3, 10}
	r, err := Retrieval(context.Background(), images, texts, links, ks)
	if err != nil {
		t.Fatal(err)
	}
	check := func(name string, d Direction, queries, gallery *Matrix, rel [][]int) {
		hits := make([]float64, len(ks))
		n := 0
		for q := range queries.Rows {
			if len(rel[q]) == 0 {
				continue
			}
			n++
			rank := naiveRank(queries.Row(q), gallery, rel[q])
			if d.Ranks[q] != float64(rank) {
				t.Errorf("%s query %d: rank %v, naive %d", name, q, d.Ranks[q], rank)
			}
			for i, k := range ks {
				if rank <= k {
					hits[i]++
				}
			}
		}
		if d.Queries != n {
			t.Errorf("%s: %d queries, want %d", name, d.Queries, n)
		}
		for i, k := range ks {
			if !near(d.Recall(k), hits[i]/float64(n)) {
				t.Errorf("%s R@%d = %v, naive %v", name, k, d.Recall(k), hits[i]/float64(n))
			}
		}
	}
	check("image→text", r.ImageToText, images, texts, imgRel)
	check("text→image", r.TextToImage, texts, images, txtRel)
}

func TestRetrievalErrors(t *testing.T) {
	ctx := context.Background()
	nan := mustRows(t, []float32{float32(math.NaN()), 0})
	tests := []struct {
		name          string
		images, texts *Matrix
		links         []Link
		ks            []int
	}{
		{"dimension mismatch", basis(2, 2), basis(2, 3), oneToOne(2), []int{1}},
		{"NaN", nan, basis(1, 2), oneToOne(1), []int{1}},
		{"link out of range", basis(2, 2), basis(2, 2), []Link{{0, 2}}, []int{1}},
		{"negative link", basis(2, 2), basis(2, 2), []Link{{-1, 0}}, []int{1}},
		{"k zero", basis(2, 2), basis(2, 2), oneToOne(2), []int{0}},
		{"no k", basis(2, 2), basis(2, 2), oneToOne(2), nil},
		{"bad matrix", &Matrix{Rows: 2, Dim: 2, Data: make([]float32, 3)}, basis(2, 2), nil, []int{1}},
	}
	for _, tc := range tests {
		if _, err := Retrieval(ctx, tc.images, tc.texts, tc.links, tc.ks); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}

func TestRetrievalEmptyAndCancelled(t *testing.T) {
	r, err := Retrieval(context.Background(), &Matrix{}, &Matrix{}, nil, DefaultRecallKs)
	if err != nil || r.ImageToText.Queries != 0 || r.ImageToText.Recall(1) != 0 {
		t.Fatalf("empty: %+v, %v", r, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Retrieval(ctx, basis(100, 100), basis(100, 100), oneToOne(100), DefaultRecallKs); err == nil {
		t.Fatal("cancelled context: no error")
	}
}

func TestHitProbability(t *testing.T) {
	tests := []struct {
		o    outcome
		k    int
		want float64
	}{
		{outcome{0, 0, 1}, 1, 1},
		{outcome{1, 0, 1}, 1, 0},
		{outcome{1, 0, 1}, 2, 1},
		{outcome{0, 1, 1}, 1, 0.5},
		{outcome{0, 3, 2}, 1, 0.4},                 // 2 of 5
		{outcome{0, 3, 2}, 2, 1 - (3.0/5)*(2.0/4)}, // 0.7
		{outcome{0, 3, 2}, 4, 1},
		{outcome{2, 3, 1}, 3, 0.25},
	}
	for _, tc := range tests {
		if got := tc.o.hit(tc.k); !near(got, tc.want) {
			t.Errorf("%+v hit(%d) = %v, want %v", tc.o, tc.k, got, tc.want)
		}
	}
}

func TestMatrixHelpers(t *testing.T) {
	if _, err := MatrixFromRows([][]float32{{1, 2}, {3}}); err == nil {
		t.Error("ragged rows accepted")
	}
	var m Matrix
	if err := m.Append([]float32{3, 4}); err != nil {
		t.Fatal(err)
	}
	if err := m.Append([]float32{1}); err == nil {
		t.Error("short row accepted")
	}
	n, zero := mustRows(t, []float32{3, 4}, []float32{0, 0}).Normalized()
	if zero != 1 || math.Abs(float64(n.Row(0)[0])-0.6) > 1e-7 || n.Row(1)[0] != 0 {
		t.Errorf("normalized %v, %d zero rows", n.Data, zero)
	}
	if c := Cosine([]float32{1, 0}, []float32{1, 1}); !near(c, 1/math.Sqrt2) {
		t.Errorf("cosine %v", c)
	}
	if c := Cosine([]float32{0, 0}, []float32{1, 1}); c != 0 {
		t.Errorf("cosine with zero vector %v", c)
	}
}
