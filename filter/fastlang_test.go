package filter

import (
	"testing"
	"unicode/utf8"

	"github.com/pemistahl/lingua-go"
)

// TestFastScorerClearCases checks the n-gram scorer's best language on unambiguous sentences
// and that the language filter lets it decide them without lingua.
func TestFastScorerClearCases(t *testing.T) {
	f := englishFilter(t)
	if f.ngram == nil {
		t.Fatal("n-gram scorer off in the default filter")
	}
	tests := []struct {
		text string
		want lingua.Language
	}{
		{"A black dog is running along the beach at sunset", lingua.English},
		{"Wooden kitchen table with four matching chairs", lingua.English},
		{"Ein schwarzer Hund läuft am Strand entlang", lingua.German},
		{"Un chien noir court le long de la plage au coucher du soleil", lingua.French},
		{"Un perro negro corre por la playa al atardecer", lingua.Spanish},
		{"Un cane nero corre lungo la spiaggia al tramonto", lingua.Italian},
		{"Een zwarte hond rent langs het strand bij zonsondergang", lingua.Dutch},
		{"Czarny pies biegnie wzdłuż plaży o zachodzie słońca", lingua.Polish},
		{"Siyah bir köpek gün batımında sahil boyunca koşuyor", lingua.Turkish},
		{"Một con chó đen chạy dọc bãi biển lúc hoàng hôn", lingua.Vietnamese},
		{"En svart hund springer längs stranden i solnedgången", lingua.Swedish},
		{"Černý pes běží podél pláže při západu slunce", lingua.Czech},
	}
	for _, tt := range tests {
		l, margin, letters := f.ngramMarginOf(tt.text)
		if l != tt.want {
			t.Errorf("%q: scorer says %v (margin %d, %d letters), want %v", tt.text, l, margin, letters, tt.want)
		}
		r := f.Detect(tt.text)
		if r.Keep != (tt.want == lingua.English) {
			t.Errorf("%q: Keep=%v (%+v)", tt.text, r.Keep, r)
		}
		if r.ByFast && r.Language != tt.want {
			t.Errorf("%q: decided by the scorer as %v", tt.text, r.Language)
		}
	}
	// A long, clearly English caption is settled by the scorer, not lingua (the lexical
	// pre-check does not fire: too few function words).
	r := f.Detect("Vintage brass telescope mounted on tripod, nautical décor")
	if !r.ByFast || !r.Keep || r.Code() != "en" {
		t.Errorf("English caption not decided by the scorer: %+v", r)
	}
	r = f.Detect("Fahrradständer Edelstahl Wandmontage")
	if !r.ByFast || r.Keep || r.Code() != "de" {
		t.Errorf("German caption not decided by the scorer: %+v", r)
	}
}

// TestFastScorerShortAndMixed: short or mixed-script text is left to lingua.
func TestFastScorerShortAndMixed(t *testing.T) {
	f := englishFilter(t)
	for _, text := range []string{"Red car", "Hund", "Moscow Москва Kremlin Кремль tour"} {
		if r := f.Detect(text); r.ByFast {
			t.Errorf("%q decided by the scorer: %+v", text, r)
		}
	}
}

// TestFastScorerDeterministic: the table is built once per language set and scoring is integer
// arithmetic, so repeated and rebuilt models agree exactly.
func TestFastScorerDeterministic(t *testing.T) {
	langs := []lingua.Language{lingua.English, lingua.German, lingua.French}
	a, err := buildFastModel(langs)
	if err != nil {
		t.Fatal(err)
	}
	b, err := buildFastModel([]lingua.Language{lingua.English, lingua.German, lingua.French})
	if err != nil {
		t.Fatal(err)
	}
	sa, sb := make([]int32, 3), make([]int32, 3)
	for _, text := range []string{"The quick brown fox", "Der schnelle braune Fuchs", "Le renard brun rapide", ""} {
		ra, rb := a.score(text, sa), b.score(text, sb)
		if ra.best != rb.best || ra.letters != rb.letters || sa[0] != sb[0] || sa[1] != sb[1] || sa[2] != sb[2] {
			t.Errorf("%q: %v %v vs %v %v", text, ra, sa, rb, sb)
		}
	}
	if m, err := fastModelFor(langs); err != nil || m != mustFastModel(t, langs) {
		t.Error("fastModelFor does not reuse the built model")
	}
	if _, err := buildFastModel(nil); err == nil {
		t.Error("empty language set accepted")
	}
}

func mustFastModel(t *testing.T, langs []lingua.Language) *fastModel {
	m, err := fastModelFor(langs)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// FuzzFastLang scores arbitrary text (invalid UTF-8, combining marks, odd cases, every script)
// with a three-language model: no panic, letters within bounds, the best language in the model.
func FuzzFastLang(f *testing.F) {
	for _, s := range []string{"", "a", "The quick brown fox", "Straße", "İstanbul'da güzel", "\xff\xfe", "ǅǈ ΣΑΣ", "a\u0301b", "日本語 text"} {
		f.Add(s)
	}
	langs := []lingua.Language{lingua.English, lingua.German, lingua.French}
	m, err := fastModelFor(langs)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		scores := make([]int32, len(langs))
		r := m.score(s, scores)
		if r.letters < 0 || r.letters > utf8.RuneCountInString(s) {
			t.Fatalf("%q: %d letters", s, r.letters)
		}
		if r.best < 0 || r.best >= len(langs) {
			t.Fatalf("%q: best %d", s, r.best)
		}
		for _, v := range scores {
			if v < 0 || int(v) > r.letters*fastUnseen {
				t.Fatalf("%q: score %d for %d letters", s, v, r.letters)
			}
		}
	})
}

func containsLang(ls []lingua.Language, l lingua.Language) bool {
	for _, x := range ls {
		if x == l {
			return true
		}
	}
	return false
}

// BenchmarkFastScorer is the n-gram scorer alone on the caption mix.
func BenchmarkFastScorer(b *testing.B) {
	mix, _ := captionMix(b, 6000)
	f := englishFilter(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f.ngramMarginOf(mix[i%len(mix)])
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "captions/s")
	b.ReportMetric(float64(f.ngram.bytes)/1e6, "table_MB")
}
