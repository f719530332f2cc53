package filter

import (
	"os"
	"testing"
	"time"
)

// TestFastLangCalibrate prints, for a range of margins, how many strings the n-gram scorer
// would decide and the English precision/recall of the whole language stage with it, on the
// Debian catalogues (WIT_LANGID_DATA) or testdata. Set WIT_CALIBRATE=1 to run it.
func TestFastLangCalibrate(t *testing.T) {
	if os.Getenv("WIT_CALIBRATE") == "" {
		t.Skip("set WIT_CALIBRATE=1")
	}
	var data []labelled
	if root := os.Getenv("WIT_LANGID_DATA"); root != "" {
		var err error
		if data, err = loadPOData(root, 400); err != nil {
			t.Fatal(err)
		}
	} else {
		for _, d := range readSample(t) {
			if TextRulesForEval.Check(d.Text) == Kept {
				data = append(data, d)
			}
		}
	}
	base, err := NewLanguageFilter(LanguageOptions{CacheSize: -1, NoFastScorer: true})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	ff, err := NewLanguageFilter(LanguageOptions{CacheSize: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("n-gram model for %d languages: %.0f MB, built in %v", len(ff.ngram.langs), float64(ff.ngram.bytes)/1e6, time.Since(start))
	setCodes := map[string]bool{"en": true}
	for _, l := range DefaultDetectLanguages {
		setCodes[LanguageCode(l)] = true
	}
	type row struct {
		truth, inSet, baseKeep, eligible, fastKeep bool
		margin                                     int32
	}
	var rows []row
	var fastDur time.Duration
	for _, d := range data {
		r := row{truth: d.Lang == "en", inSet: setCodes[d.Lang]}
		br := base.Detect(d.Text)
		r.baseKeep = br.Keep
		if !br.ByScript && !br.ByLexical {
			p := ProfileScripts(d.Text)
			if p.Counts[ScriptLatin] == p.Letters && p.Letters >= fastMinLetters {
				s := time.Now()
				_, m, _ := ff.ngramMarginOf(d.Text)
				fastDur += time.Since(s)
				r.eligible, r.margin, r.fastKeep = true, m, m > 0
			}
		}
		rows = append(rows, r)
	}
	nel := 0
	for _, r := range rows {
		if r.eligible {
			nel++
		}
	}
	t.Logf("%d strings, %d reach lingua today and the scorer is eligible; scorer %.1f µs/string", len(rows), nel, fastDur.Seconds()*1e6/float64(max(nel, 1)))
	for _, nats := range []float64{0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0, 1.5} {
		thr := int32(nats * fastScale * fastMarginDiv)
		var all, set prCounts
		decided, wrongVsLingua := 0, 0
		for _, r := range rows {
			keep := r.baseKeep
			if r.eligible && (r.margin >= thr || r.margin <= -thr) {
				decided++
				keep = r.margin > 0
				if keep != r.baseKeep {
					wrongVsLingua++
				}
			}
			var c prCounts
			switch {
			case r.truth && keep:
				c.tp = 1
			case r.truth:
				c.fn = 1
			case keep:
				c.fp = 1
			default:
				c.tn = 1
			}
			all = prCounts{all.tp + c.tp, all.fp + c.fp, all.fn + c.fn, all.tn + c.tn}
			if r.inSet {
				set = prCounts{set.tp + c.tp, set.fp + c.fp, set.fn + c.fn, set.tn + c.tn}
			}
		}
		t.Logf("margin %.2f: scorer decides %d/%d eligible (%d differ from lingua); R=%.4f P(set)=%.4f P(all)=%.4f",
			nats, decided, nel, wrongVsLingua, all.recall(), set.precision(), all.precision())
	}
}
