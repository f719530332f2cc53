package inference

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/witdata/wit/internal/testutil/cliptest"
	"github.com/witdata/wit/tokenizer"
)

func TestMain(m *testing.M) {
	// Never let GoMLX try to download a PJRT plugin (gomlxfix sets it too; tests must not depend on
	// import order).
	os.Setenv("GOMLX_NO_AUTO_INSTALL", "1")
	os.Exit(m.Run())
}

var testColors = []struct {
	name string
	c    color.RGBA
}{{"red", color.RGBA{220, 30, 30, 255}}, {"green", color.RGBA{30, 200, 40, 255}}, {"blue", color.RGBA{30, 40, 220, 255}}}

// testImage draws a square of colour k on a gray background, with jitter, and returns JPEG bytes and
// a caption.
func testImage(k, size int, rng *rand.Rand) ([]byte, string) {
	col := testColors[k%len(testColors)]
	img := image.NewRGBA(image.Rect(0, 0, size+rng.IntN(8), size+rng.IntN(8)))
	bg := uint8(100 + rng.IntN(50))
	b := img.Bounds()
	cx, cy, rad := b.Dx()/2+rng.IntN(5)-2, b.Dy()/2+rng.IntN(5)-2, size/3+rng.IntN(3)
	for y := range b.Dy() {
		for x := range b.Dx() {
			c := color.RGBA{bg, bg, bg, 255}
			if x-cx < rad && cx-x < rad && y-cy < rad && cy-y < rad {
				c = col.c
			}
			img.Set(x, y, c)
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		panic(err)
	}
	return buf.Bytes(), fmt.Sprintf("a %s square", col.name)
}

// testTokenizer is trained on the test captions.
func testTokenizer(t testing.TB) *tokenizer.Tokenizer {
	t.Helper()
	var caps []string
	for k := range testColors {
		_, c := testImage(k, 8, rand.New(rand.NewPCG(1, 1)))
		caps = append(caps, c, c)
	}
	return cliptest.Tokenizer(t, caps)
}
