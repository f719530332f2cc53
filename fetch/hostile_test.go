package fetch

import (
	"bytes"
	"context"
	"image"
	"image/jpeg"
	"image/png"
	"testing"
)

func grayStrip(t testing.TB, w, h int, asPNG bool) []byte {
	t.Helper()
	m := image.NewGray(image.Rect(0, 0, w, h))
	for i := range m.Pix {
		m.Pix[i] = uint8(i)
	}
	var b bytes.Buffer
	var err error
	if asPNG {
		err = png.Encode(&b, m)
	} else {
		err = jpeg.Encode(&b, m, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestHostileImagesFailWithReasons: the poison images of issue 18 (a 13,000,000×1 PNG under the
// pixel limit, a 65,500×1 JPEG, a 16-bit PNG over the image budget) fail with counted reasons
// under the modes that would blow up, and the good items around them are written.
func TestHostileImagesFailWithReasons(t *testing.T) {
	if testing.Short() {
		t.Skip("encodes a 13-megapixel strip")
	}
	srv := newImageServer(t)
	srv.files["wide-png"] = grayStrip(t, 13_000_000, 1, true)
	srv.files["wide-jpeg"] = grayStrip(t, 65_500, 1, false)
	deep := image.NewNRGBA64(image.Rect(0, 0, 1000, 1000))
	for i := range deep.Pix {
		deep.Pix[i] = uint8(i)
	}
	var b bytes.Buffer
	if err := png.Encode(&b, deep); err != nil {
		t.Fatal(err)
	}
	srv.files["png16"] = b.Bytes()
	items := manyItems(srv.URL, "img", 6)
	hostile := []string{srv.URL + "/real/wide-png", srv.URL + "/real/wide-jpeg", srv.URL + "/real/png16"}
	for _, u := range hostile {
		items = append(items[:3], append([]Item{{URL: u}}, items[3:]...)...)
	}
	tests := []struct {
		mode string
		want []string // reasons of hostile, in order
	}{
		{"keep_ratio", []string{ReasonTooManyPixels, ReasonTooManyPixels, ReasonMemoryBudget}},
		{"center_crop", []string{ReasonMemoryBudget, ReasonMemoryBudget, ReasonMemoryBudget}},
		// border fits the strips into 256×1 (the wide JPEG costs ~4 MiB); decoding the PNG strip
		// takes ~80 MiB, over this test's budget.
		{"border", []string{ReasonMemoryBudget, "", ReasonMemoryBudget}},
	}
	for _, tc := range tests {
		out := t.TempDir()
		cfg := testConfig(t, out)
		cfg.ResizeMode = tc.mode
		cfg.MaxImageMemory = 8 << 20 // the 16-bit 1000² PNG needs ~13 MiB
		cfg.ProcessWorkers = 2
		st, err := Run(context.Background(), cfg, Items(items))
		if err != nil {
			t.Fatalf("%s: %v", tc.mode, err)
		}
		failures := readFailures(t, out)
		wantFailed := int64(0)
		for i, u := range hostile {
			if failures[u] != tc.want[i] {
				t.Errorf("%s: %s failed with %q, want %q", tc.mode, u, failures[u], tc.want[i])
			}
			if tc.want[i] != "" {
				wantFailed++
			}
		}
		if st.Failed != wantFailed || st.Successes != int64(len(items))-wantFailed || st.Done != int64(len(items)) {
			t.Errorf("%s: stats %+v", tc.mode, st)
		}
		if n := len(readSamples(t, out)); int64(n) != st.Successes {
			t.Errorf("%s: %d samples stored, %d successes", tc.mode, n, st.Successes)
		}
	}
}
