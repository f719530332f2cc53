package filter

import (
	"bufio"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/pemistahl/lingua-go"
)

var (
	testLangOnce sync.Once
	testLang     *LanguageFilter
)

// englishFilter is the default language filter, built once for all tests (lingua loads ~1 GB
// of models).
func englishFilter(t testing.TB) *LanguageFilter {
	testLangOnce.Do(func() {
		f, err := NewLanguageFilter(LanguageOptions{})
		if err != nil {
			t.Fatal(err)
		}
		testLang = f
	})
	return testLang
}

func readSample(t testing.TB) []labelled {
	f, err := os.Open("testdata/multilingual.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []labelled
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lang, text, ok := strings.Cut(sc.Text(), "\t")
		if ok {
			out = append(out, labelled{lang, text})
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestLanguageRealStrings checks the English decision on 400 real translated UI strings.
func TestLanguageRealStrings(t *testing.T) {
	data := readSample(t)
	f := englishFilter(t)
	var c prCounts
	for _, d := range data {
		if TextRulesForEval.Check(d.Text) != Kept {
			continue
		}
		r := f.Detect(d.Text)
		switch truth := d.Lang == "en"; {
		case truth && r.Keep:
			c.tp++
		case truth:
			c.fn++
		case r.Keep:
			c.fp++
			t.Logf("false positive %s: %q", d.Lang, d.Text)
		default:
			c.tn++
		}
	}
	t.Logf("sample: P=%.3f R=%.3f (tp=%d fp=%d fn=%d tn=%d)", c.precision(), c.recall(), c.tp, c.fp, c.fn, c.tn)
	if c.precision() < 0.9 || c.recall() < 0.8 {
		t.Errorf("English detection on the sample: P=%.3f R=%.3f, want >= 0.9 / 0.8", c.precision(), c.recall())
	}
}

func TestLanguageFilterStages(t *testing.T) {
	f := englishFilter(t)
	r := f.Detect("Чёрная собака бежит по пляжу")
	if !r.ByScript || r.Keep || r.Code() != "und-Cyrl" {
		t.Errorf("Cyrillic: %+v code %s, want script pre-check rejection", r, r.Code())
	}
	r = f.Detect("黒い犬が浜辺を走っている")
	if !r.ByScript || r.Keep || r.Code() != "und-Kana" {
		t.Errorf("Japanese: %+v code %s", r, r.Code())
	}
	text := "A black dog is running along the beach at sunset"
	r = f.Detect(text)
	if !r.Keep || r.Code() != "en" || r.ByScript {
		t.Errorf("English: %+v", r)
	}
	// Only lingua's answers are cached (the n-gram scorer is cheaper than the cache's lock).
	nf, err := NewLanguageFilter(LanguageOptions{NoFastScorer: true})
	if err != nil {
		t.Fatal(err)
	}
	if r := nf.Detect(text); r.Cached || r.ByFast || !r.Keep {
		t.Errorf("first answer: %+v", r)
	}
	r2 := nf.Detect(text)
	if !r2.Cached || !r2.Keep {
		t.Errorf("repeat not cached: %+v", r2)
	}
	if r := f.Detect("Ein schwarzer Hund läuft am Strand entlang"); r.Keep || r.Code() != "de" {
		t.Errorf("German: %+v code %s", r, r.Code())
	}
}

func TestLanguageKeepOther(t *testing.T) {
	f, err := NewLanguageFilter(LanguageOptions{Keep: []lingua.Language{lingua.Russian, lingua.English}, CacheSize: -1})
	if err != nil {
		t.Fatal(err)
	}
	if r := f.Detect("Чёрная собака бежит по пляжу"); !r.Keep || r.Code() != "ru" {
		t.Errorf("Russian kept: %+v %s", r, r.Code())
	}
	if r := f.Detect("黒い犬が浜辺を走っている"); r.Keep || !r.ByScript {
		t.Errorf("Japanese with en+ru: %+v", r)
	}
}

func TestParseLanguages(t *testing.T) {
	got, err := ParseLanguages("en, de,French,spa")
	if err != nil {
		t.Fatal(err)
	}
	want := []lingua.Language{lingua.English, lingua.German, lingua.French, lingua.Spanish}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("%d: %v want %v", i, got[i], want[i])
		}
	}
	if _, err := ParseLanguages("en,xx"); err == nil {
		t.Error("unknown code accepted")
	}
}
