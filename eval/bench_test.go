package eval

import (
	"context"
	"math/rand/v2"
	"testing"
)

func randomMatrix(rng *rand.Rand, rows, dim int) *Matrix {
	m := NewMatrix(rows, dim)
	for i := range m.Data {
		m.Data[i] = float32(rng.NormFloat64())
	}
	return m
}

// BenchmarkRetrieval: 2,000 images × 2,000 captions × 512 dims (the size of a COCO-5k style test
// with one caption each, at ViT-B/32's embedding width), both directions.
func BenchmarkRetrieval(b *testing.B) {
	const n, dim = 2000, 512
	rng := rand.New(rand.NewPCG(3, 4))
	img, txt := randomMatrix(rng, n, dim), randomMatrix(rng, n, dim)
	links := oneToOne(n)
	b.ResetTimer()
	for b.Loop() {
		if _, err := Retrieval(context.Background(), img, txt, links, DefaultRecallKs); err != nil {
			b.Fatal(err)
		}
	}
	flops := 2 * 2 * float64(n) * n * dim // two directions
	b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	b.ReportMetric(float64(2*n*b.N)/b.Elapsed().Seconds(), "queries/s")
}

// BenchmarkZeroShot: 2,000 images against 1,000 classes (ImageNet-sized) at 512 dims.
func BenchmarkZeroShot(b *testing.B) {
	const n, classes, dim = 2000, 1000, 512
	rng := rand.New(rand.NewPCG(5, 6))
	img, w := randomMatrix(rng, n, dim), randomMatrix(rng, classes, dim)
	labels := make([]int, n)
	for i := range labels {
		labels[i] = rng.IntN(classes)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := ZeroShot(context.Background(), img, w, labels, nil, DefaultAccuracyKs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "images/s")
	b.ReportMetric(2*float64(n)*classes*dim*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}
