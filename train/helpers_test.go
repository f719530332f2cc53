package train

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/witdata/wit/internal/gomlxfix"
	"github.com/witdata/wit/internal/testutil/cliptest"
	"github.com/witdata/wit/shards"
	"github.com/witdata/wit/tokenizer"
)

var testBackend = gomlxfix.MustBackend()

func TestMain(m *testing.M) {
	// Never let GoMLX try to download a PJRT plugin (gomlxfix sets it too; tests must not depend on
	// import order).
	os.Setenv("GOMLX_NO_AUTO_INSTALL", "1")
	os.Exit(m.Run())
}

var (
	testColors = []struct {
		name string
		c    color.RGBA
	}{{"red", color.RGBA{220, 30, 30, 255}}, {"green", color.RGBA{30, 200, 40, 255}}, {"blue", color.RGBA{30, 40, 220, 255}}, {"yellow", color.RGBA{230, 220, 30, 255}}}
	testShapes = []string{"square", "circle", "stripe"}
)

// synthPair draws class k (color × shape) on a gray background with jitter and returns JPEG bytes
// and its caption.
func synthPair(k int, size int, rng *rand.Rand) ([]byte, string) {
	col := testColors[k%len(testColors)]
	shape := testShapes[(k/len(testColors))%len(testShapes)]
	img := image.NewRGBA(image.Rect(0, 0, size+rng.IntN(8), size+rng.IntN(8)))
	bg := uint8(100 + rng.IntN(50))
	b := img.Bounds()
	cx, cy := b.Dx()/2+rng.IntN(5)-2, b.Dy()/2+rng.IntN(5)-2
	rad := size/3 + rng.IntN(3)
	for y := 0; y < b.Dy(); y++ {
		for x := 0; x < b.Dx(); x++ {
			dx, dy := x-cx, y-cy
			in := false
			switch shape {
			case "square":
				in = abs(dx) < rad && abs(dy) < rad
			case "circle":
				in = dx*dx+dy*dy < rad*rad
			case "stripe":
				in = abs(dy) < rad/3
			}
			if in {
				img.Set(x, y, col.c)
			} else {
				img.Set(x, y, color.RGBA{bg, bg, bg, 255})
			}
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		panic(err)
	}
	return buf.Bytes(), fmt.Sprintf("a %s %s", col.name, shape)
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func numClasses() int { return len(testColors) * len(testShapes) }

// writeShards writes n synthetic samples into dir, perFile rows a file; every corruptEvery-th image
// (when > 0) is garbage bytes.
func writeShards(t testing.TB, dir string, n, perFile, corruptEvery, size int) {
	t.Helper()
	w, err := shards.NewWriter(dir, shards.SampleSchema, shards.WriterOptions{RowsPerFile: perFile, BatchRows: 64, FirstIndex: 0, Metadata: shards.SampleMetadata()})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(11, 12))
	for i := range n {
		img, caption := synthPair(i%numClasses(), size, rng)
		if corruptEvery > 0 && i%corruptEvery == corruptEvery-1 {
			img = []byte("\xff\xd8\xff\xe0 this is not a jpeg")
		}
		s := &shards.Sample{Key: shards.SampleKey(i/perFile, i%perFile), Image: img, Caption: caption, Width: size, Height: size}
		shards.AppendSample(w.Builder(), s)
		if err := w.EndRow(); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// testTokenizer is trained on the synthetic captions.
func testTokenizer(t testing.TB) *tokenizer.Tokenizer {
	t.Helper()
	var caps []string
	for k := range numClasses() {
		_, c := synthPair(k, 8, rand.New(rand.NewPCG(1, 1)))
		caps = append(caps, c, c)
	}
	return cliptest.Tokenizer(t, caps)
}
