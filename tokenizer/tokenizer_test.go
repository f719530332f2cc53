package tokenizer

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// corpus is a small caption corpus with repetition, so merges form.
var corpus = []string{
	"A photo of a dog playing in the park",
	"a photo of a cat sleeping on the sofa",
	"Grinning face with big eyes 😃",
	"Red apple on a wooden table",
	"the dog's ball, the cat's toy",
	"Eiffel Tower at night — Paris, France",
	"Straße in München, café au lait",
	"東京タワーの写真",
	"2024 photos: 35 mm film",
	"We'll go; they're here. I'm sure you've seen it, I'd say",
	"tab\tseparated\nnew line   many  spaces ",
}

func trained(t testing.TB, vocab int) *Tokenizer {
	t.Helper()
	var caps []string
	for i := range 20 {
		for _, c := range corpus {
			caps = append(caps, fmt.Sprintf("%s %d", c, i%3))
		}
	}
	tok, err := Train(caps, TrainOptions{VocabSize: vocab})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestPiecesConcatenate(t *testing.T) {
	for _, s := range append(corpus, "", " ", "  a", "a  ", "\n\n", "x'", "'s", "''re", " \t a", "a\u00a0b", string([]byte{0xff, 'a', 0xfe})) {
		var got []string
		for p := range pieces(s) {
			if p == "" {
				t.Fatalf("%q: empty piece", s)
			}
			got = append(got, p)
		}
		if strings.Join(got, "") != s {
			t.Errorf("%q: pieces %q do not concatenate back", s, got)
		}
	}
}

func TestPiecesLikeGPT2(t *testing.T) {
	cases := []struct {
		in   string
		want []string
	}{
		{"hello world", []string{"hello", " world"}},
		{"it's 2024!", []string{"it", "'s", " 2024", "!"}},
		{"a   b", []string{"a", "  ", " b"}},
		{"a \tb", []string{"a", " ", "\t", "b"}},
		{"end  ", []string{"end", "  "}},
		{"we'll ... go", []string{"we", "'ll", " ...", " go"}},
		{"café 😃😃 ok", []string{"café", " 😃😃", " ok"}},
	}
	for _, c := range cases {
		got := slices.Collect(pieces(c.in))
		if !slices.Equal(got, c.want) {
			t.Errorf("pieces(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	tok := trained(t, 600)
	inputs := append(slices.Clone(corpus),
		"UPPER Case Mixed", "emoji 👩‍👩‍👧‍👦 family 🇫🇷 flag", "Ελληνικά και Русский", "नमस्ते दुनिया",
		"<start_of_text> is not special", "null\x00byte", "")
	for _, s := range inputs {
		ids := tok.Encode(s, 256)
		if got, want := tok.Decode(ids), strings.ToLower(s); got != want {
			t.Errorf("round trip %q: got %q want %q", s, got, want)
		}
		if ids[0] != tok.StartID() {
			t.Errorf("%q: first id %d, want start %d", s, ids[0], tok.StartID())
		}
		for _, id := range ids[1:] {
			if id == tok.StartID() {
				t.Errorf("%q: text encoded as a start token", s)
			}
		}
	}
}

func TestSpecialTokensAndPadding(t *testing.T) {
	tok := trained(t, 500)
	if tok.EndID() != int32(tok.VocabSize()-1) || tok.StartID() != int32(tok.VocabSize()-2) {
		t.Fatalf("special ids start=%d end=%d vocab=%d", tok.StartID(), tok.EndID(), tok.VocabSize())
	}
	ids := tok.Encode("a dog", 16)
	if len(ids) != 16 {
		t.Fatalf("len %d", len(ids))
	}
	end := slices.Index(ids, tok.EndID())
	if end < 2 {
		t.Fatalf("end token at %d in %v", end, ids)
	}
	for i, id := range ids[end+1:] {
		if id != 0 {
			t.Errorf("padding at %d = %d", end+1+i, id)
		}
	}
	// The end token is the row's argmax (what the model uses to find it).
	if slices.Max(ids) != tok.EndID() || slices.Index(ids, slices.Max(ids)) != end {
		t.Errorf("end token is not the unique argmax: %v", ids)
	}
	if name, _ := tok.Token(tok.EndID()); name != EndOfText {
		t.Errorf("Token(end) = %q", name)
	}
	// Empty text: start, end, padding.
	if e := tok.Encode("", 4); !slices.Equal(e, []int32{tok.StartID(), tok.EndID(), 0, 0}) {
		t.Errorf("empty: %v", e)
	}
}

func TestTruncation(t *testing.T) {
	tok := trained(t, 400)
	long := strings.Repeat("a photo of a dog playing in the park ", 20)
	for _, n := range []int{2, 3, 8, 77} {
		ids := tok.Encode(long, n)
		if len(ids) != n || ids[0] != tok.StartID() || ids[n-1] != tok.EndID() {
			t.Fatalf("ctx %d: %v", n, ids)
		}
		full := tok.Tokens(nil, long)
		if n > 2 && !slices.Equal(ids[1:n-1], full[:n-2]) {
			t.Errorf("ctx %d: truncation is not a prefix", n)
		}
		if d := tok.Decode(ids); !strings.HasPrefix(strings.ToLower(long), d) {
			t.Errorf("ctx %d: decoded %q is not a prefix", n, d)
		}
	}
	// EncodeTo into a row of a larger buffer must not touch the next row.
	buf := make([]int32, 12)
	for i := range buf {
		buf[i] = -7
	}
	tok.EncodeTo(buf[:6], long)
	for _, v := range buf[6:] {
		if v != -7 {
			t.Fatalf("EncodeTo wrote past its row: %v", buf)
		}
	}
}

func TestDeterministicAndMergesCompress(t *testing.T) {
	a, b := trained(t, 700), trained(t, 700)
	ja, _ := a.MarshalJSON()
	jb, _ := b.MarshalJSON()
	if string(ja) != string(jb) {
		t.Fatal("two trainings on the same captions differ")
	}
	if a.NumMerges() == 0 {
		t.Fatal("no merges learned")
	}
	s := "a photo of a dog playing in the park"
	if n := len(a.Tokens(nil, s)); n >= len(s)/2 {
		t.Errorf("%q: %d tokens for %d bytes, merges do not compress", s, n, len(s))
	}
	// A frequent whole word becomes one token.
	if ids := a.Tokens(nil, " photo"); len(ids) != 1 {
		t.Errorf("\" photo\" is %d tokens", len(ids))
	}
}

func TestVocabSizeRespected(t *testing.T) {
	tok := trained(t, 300)
	if tok.VocabSize() > 300 {
		t.Errorf("vocab %d > 300", tok.VocabSize())
	}
	// Asking for more than the corpus supports stops at MinFrequency.
	big := trained(t, 1<<20)
	if big.VocabSize() >= 1<<20 {
		t.Errorf("vocab %d: training did not stop", big.VocabSize())
	}
	if _, err := Train(nil, TrainOptions{}); err == nil {
		t.Error("training on nothing succeeded")
	}
	if _, err := Train(corpus, TrainOptions{VocabSize: 100}); err == nil {
		t.Error("vocab below 258 accepted")
	}
}

// TestAddAll counts a caption sequence and honours max, also across calls.
func TestAddAll(t *testing.T) {
	tests := []struct {
		max   int64
		calls int
		want  int64
	}{
		{0, 1, int64(len(corpus))},
		{0, 2, int64(2 * len(corpus))},
		{5, 1, 5},
		{5, 2, 5},
		{int64(len(corpus)) + 3, 2, int64(len(corpus)) + 3},
	}
	for _, tt := range tests {
		c := NewCounter()
		for range tt.calls {
			c.AddAll(slices.Values(corpus), tt.max)
		}
		if c.Captions() != tt.want {
			t.Errorf("max %d, %d calls: %d captions, want %d", tt.max, tt.calls, c.Captions(), tt.want)
		}
	}
	// Stopping early stops the sequence: nothing past max is read.
	read := 0
	c := NewCounter()
	c.AddAll(func(yield func(string) bool) {
		for _, s := range corpus {
			read++
			if !yield(s) {
				return
			}
		}
	}, 3)
	if read != 3 {
		t.Errorf("read %d captions for max 3", read)
	}
	// Train on a sequence equals Train on the slice.
	a, err := Train(corpus, TrainOptions{VocabSize: 300})
	if err != nil {
		t.Fatal(err)
	}
	c = NewCounter()
	c.AddAll(slices.Values(corpus), 0)
	b, err := c.Train(TrainOptions{VocabSize: 300})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a.merges, b.merges) {
		t.Error("a counter fed a sequence learned other merges than Train")
	}
}

func TestSaveLoad(t *testing.T) {
	tok := trained(t, 600)
	path := filepath.Join(t.TempDir(), "tok.json")
	if err := tok.Save(path); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.VocabSize() != tok.VocabSize() {
		t.Fatalf("vocab %d, want %d", got.VocabSize(), tok.VocabSize())
	}
	for _, s := range corpus {
		if !slices.Equal(got.Encode(s, 64), tok.Encode(s, 64)) {
			t.Errorf("%q encodes differently after load", s)
		}
	}
	for _, bad := range []string{`{`, `{"version":2,"type":"byte_bpe"}`, `{"version":1,"type":"byte_bpe","merges":["ab"]}`,
		`{"version":1,"type":"byte_bpe","merges":["a zz"]}`, `{"version":1,"type":"byte_bpe","vocab_size":5,"merges":[]}`} {
		if _, err := Parse([]byte(bad)); err == nil {
			t.Errorf("Parse(%s) accepted", bad)
		}
	}
}

// TestTrainSpeed: 100k synthetic captions (a Zipf vocabulary) to 8192 ids within seconds.
func TestTrainSpeed(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	caps := syntheticCaptions(100_000, 1)
	start := time.Now()
	tok, err := Train(caps, TrainOptions{VocabSize: 8192})
	if err != nil {
		t.Fatal(err)
	}
	el := time.Since(start)
	t.Logf("100k captions → %d ids (%d merges) in %v", tok.VocabSize(), tok.NumMerges(), el)
	if el > 30*time.Second {
		t.Errorf("training took %v", el)
	}
}

// syntheticCaptions draws words of a Zipf-distributed synthetic vocabulary (letters, some digits
// and emoji) into captions of 3–12 words.
func syntheticCaptions(n int, seed uint64) []string {
	rng := rand.New(rand.NewPCG(seed, 7))
	words := make([]string, 20000)
	letters := "abcdefghijklmnopqrstuvwxyzéü"
	for i := range words {
		var sb strings.Builder
		l := 2 + rng.IntN(9)
		for range l {
			r, _ := utf8.DecodeRuneInString(letters[rng.IntN(26):])
			if rng.IntN(50) == 0 {
				r = []rune(letters)[26+rng.IntN(2)]
			}
			sb.WriteRune(r)
		}
		if i%97 == 0 {
			sb.WriteString("😃")
		}
		words[i] = sb.String()
	}
	zipf := rand.NewZipf(rng, 1.1, 2, uint64(len(words)-1))
	caps := make([]string, n)
	for i := range caps {
		k := 3 + rng.IntN(10)
		parts := make([]string, k)
		for j := range parts {
			parts[j] = words[zipf.Uint64()]
		}
		if i%5 == 0 {
			parts = append(parts, fmt.Sprint(rng.IntN(3000)))
		}
		caps[i] = strings.Join(parts, " ")
	}
	return caps
}

func FuzzRoundTrip(f *testing.F) {
	tok := trained(f, 500)
	for _, s := range corpus {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ids := tok.Encode(s, 4096)
		if ids[len(ids)-1] != tok.EndID() && slices.Index(ids, tok.EndID()) < 0 {
			t.Fatal("no end token")
		}
		if len(tok.Tokens(nil, s)) <= 4094 {
			if got := tok.Decode(ids); got != strings.ToLower(s) {
				t.Fatalf("round trip %q → %q", s, got)
			}
		}
	})
}

func BenchmarkEncode(b *testing.B) {
	caps := syntheticCaptions(20_000, 2)
	tok, err := Train(caps, TrainOptions{VocabSize: 8192})
	if err != nil {
		b.Fatal(err)
	}
	test := syntheticCaptions(10_000, 3)
	var bytes int64
	for _, s := range test {
		bytes += int64(len(s))
	}
	dst := make([]int32, 77)
	b.ResetTimer()
	i := 0
	for b.Loop() {
		tok.EncodeTo(dst, test[i%len(test)])
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "captions/s")
	b.ReportMetric(float64(bytes)/float64(len(test))*float64(b.N)/b.Elapsed().Seconds()/1e6, "MB/s")
}

func BenchmarkTrain(b *testing.B) {
	caps := syntheticCaptions(100_000, 4)
	for b.Loop() {
		if _, err := Train(caps, TrainOptions{VocabSize: 8192}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(100_000*float64(b.N)/b.Elapsed().Seconds(), "captions/s")
}

// TestConcurrentEncode: the encode cache is shared by loader workers.
func TestConcurrentEncode(t *testing.T) {
	tok := trained(t, 500)
	want := make([][]int32, len(corpus))
	for i, s := range corpus {
		want[i] = tok.Encode(s, 32)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for k := range 2000 {
				i := (k + g) % len(corpus)
				got := tok.Encode(corpus[i], 32)
				for j := range got {
					if got[j] != want[i][j] {
						t.Errorf("concurrent encode of %q differs", corpus[i])
						return
					}
				}
			}
		})
	}
	wg.Wait()
}
