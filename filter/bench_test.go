package filter

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/witdata/wit/internal/procstat"
	"github.com/witdata/wit/querymatch"
)

// captionMix builds a realistic web alt-text mix from real strings: ~40% English (Debian
// catalogue msgids and emoji names from ../shared), ~40% other languages (catalogue msgstrs of
// every locale), ~20% the junk web pages put in alt attributes (camera file names, URLs,
// boilerplate, numbers). Each string is used once, so the result cache gets no free hits.
// Without WIT_LANGID_DATA and ../shared it falls back to testdata/multilingual.tsv.
func captionMix(tb testing.TB, n int) (mix []string, english int) {
	var en, other []string
	if root := os.Getenv("WIT_LANGID_DATA"); root != "" {
		data, err := loadPOData(root, 400)
		if err != nil {
			tb.Fatal(err)
		}
		for _, d := range data {
			if d.Lang == "en" {
				en = append(en, d.Text)
			} else {
				other = append(other, d.Text)
			}
		}
	} else {
		for _, d := range readSample(tb) {
			if d.Lang == "en" {
				en = append(en, d.Text)
			} else {
				other = append(other, d.Text)
			}
		}
	}
	if f, err := os.Open("../../shared/data/emoji/concepts.tsv"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Split(sc.Text(), "\t")
			if len(fields) > 2 && fields[2] != "name" {
				en = append(en, strings.ReplaceAll(fields[2], ":", ""))
			}
		}
		f.Close()
	}
	rng := rand.New(rand.NewPCG(7, 7))
	rng.Shuffle(len(en), func(i, j int) { en[i], en[j] = en[j], en[i] })
	rng.Shuffle(len(other), func(i, j int) { other[i], other[j] = other[j], other[i] })
	junk := func(i int) string {
		switch i % 8 {
		case 0:
			return fmt.Sprintf("IMG_%04d.JPG", rng.IntN(10000))
		case 1:
			return fmt.Sprintf("DSC%05d", rng.IntN(100000))
		case 2:
			return fmt.Sprintf("https://cdn.example.com/uploads/%d/%d.jpg", 2000+rng.IntN(25), rng.IntN(1e6))
		case 3:
			return []string{"image", "logo", "banner", "icon", "spacer", "photo", "thumbnail", "untitled"}[rng.IntN(8)]
		case 4:
			return fmt.Sprintf("%d/%02d/%d", rng.IntN(28)+1, rng.IntN(12)+1, 2000+rng.IntN(25))
		case 5:
			return []string{"Home", "Menu", "Search", "Facebook", "Cart", "Close"}[rng.IntN(6)]
		case 6:
			return fmt.Sprintf("photo %d", rng.IntN(50))
		default:
			return "★★★★☆ " + strconv.Itoa(rng.IntN(500)) + " reviews"
		}
	}
	ie, io := 0, 0
	for i := range n {
		switch r := i % 10; {
		case r < 4 && ie < len(en):
			mix = append(mix, en[ie])
			ie++
			english++
		case r < 8 && io < len(other):
			mix = append(mix, other[io])
			io++
		default:
			mix = append(mix, junk(i))
		}
	}
	rng.Shuffle(len(mix), func(i, j int) { mix[i], mix[j] = mix[j], mix[i] })
	return mix, english
}

// BenchmarkFilterVsLingua runs, in the same process and iteration, a bare lingua
// DetectLanguageOf loop and the whole per-caption filter (normalise, text rules, default query
// list, language stage without result cache, pair key + pebble dedup) over the same captions,
// one goroutine each, and reports both rates, their ratio and the peak RSS.
func BenchmarkFilterVsLingua(b *testing.B) {
	mix, english := captionMix(b, 6000)
	m, err := querymatch.Default(querymatch.Options{})
	if err != nil {
		b.Fatal(err)
	}
	lf, err := NewLanguageFilter(LanguageOptions{CacheSize: -1})
	if err != nil {
		b.Fatal(err)
	}
	bare := lf.detector
	stages := &Stages{Text: DefaultTextRules(), Matcher: m, Language: lf}
	// The language stage without the n-gram scorer (lingua after the pre-checks), sharing the
	// same lingua detector, for the before/after figure.
	lfo, err := NewLanguageFilter(LanguageOptions{CacheSize: -1, NoFastScorer: true})
	if err != nil {
		b.Fatal(err)
	}
	noScorer := &Stages{Text: DefaultTextRules(), Matcher: m, Language: lfo}
	dd, err := NewDeduper("")
	if err != nil {
		b.Fatal(err)
	}
	defer dd.Close()
	var tBare, tFilter, tNoScorer time.Duration
	kept, lingua, byFast := 0, 0, 0
	var ids []int32
	b.ResetTimer()
	// Chunks of 100 captions alternate between the three loops (bare lingua, filter, filter
	// without the n-gram scorer), so that load from other
	// processes on the machine hits all of them alike.
	const chunk = 100
	for iter := 0; iter < b.N; iter++ {
		for lo := 0; lo < len(mix); lo += chunk {
			part := mix[lo:min(lo+chunk, len(mix))]
			start := time.Now()
			for _, c := range part {
				bare.DetectLanguageOf(c)
			}
			tBare += time.Since(start)
			start = time.Now()
			for i, c := range part {
				v := stages.Evaluate(c, ids)
				ids = v.Matches
				if v.Reason == Kept {
					if seen, _ := dd.Seen(PairKey(strconv.Itoa(iter*len(mix)+lo+i), v.Caption)); !seen {
						kept++
					}
				}
				if v.LangChecked && !v.Lang.ByScript && !v.Lang.ByLexical && !v.Lang.ByFast {
					lingua++
				}
				if v.Lang.ByFast {
					byFast++
				}
			}
			tFilter += time.Since(start)
			start = time.Now()
			for i, c := range part {
				v := noScorer.Evaluate(c, ids)
				ids = v.Matches
				if v.Reason == Kept {
					dd.Seen(PairKey("c"+strconv.Itoa(iter*len(mix)+lo+i), v.Caption))
				}
			}
			tNoScorer += time.Since(start)
		}
	}
	n := float64(b.N * len(mix))
	bareRate, filterRate := n/tBare.Seconds(), n/tFilter.Seconds()
	b.ReportMetric(bareRate, "lingua_captions/s")
	b.ReportMetric(filterRate, "filter_captions/s")
	b.ReportMetric(filterRate/bareRate, "ratio")
	b.ReportMetric(n/tNoScorer.Seconds()/bareRate, "ratio_without_scorer")
	b.ReportMetric(procstat.PeakRSSMB(), "peakRSS_MB")
	b.ReportMetric(float64(lingua)/n, "lingua_share")
	b.ReportMetric(float64(byFast)/n, "scorer_share")
	b.Logf("%d captions (%d English), kept %.1f%%, lingua asked for %.1f%%, n-gram scorer decided %.1f%%",
		len(mix), english, 100*float64(kept)/n, 100*float64(lingua)/n, 100*float64(byFast)/n)
}

// BenchmarkTextRules is the cheap front: normalisation and text rules only.
func BenchmarkTextRules(b *testing.B) {
	mix, _ := captionMix(b, 6000)
	r := DefaultTextRules()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c, _ := Normalize(mix[i%len(mix)])
		r.Check(c)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "captions/s")
}

// BenchmarkDedup measures the pebble-backed (image URL, caption) set.
func BenchmarkDedup(b *testing.B) {
	d, err := NewDeduper("")
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := d.Seen(PairKey("http://example.com/img/"+strconv.Itoa(i)+".jpg", "A caption")); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pairs/s")
}
