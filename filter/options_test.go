package filter

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pemistahl/lingua-go"
)

func TestStageOptions(t *testing.T) {
	queries := filepath.Join(t.TempDir(), "q.txt")
	if err := os.WriteFile(queries, []byte("red\nblue square\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	def := DefaultStageOptions()
	if lo, err := def.LanguageOptions(); err != nil || len(lo.Keep) != 1 || lo.Keep[0] != lingua.English || lo.Detect != nil || lo.CacheSize != 100_000 {
		t.Fatalf("default language options %+v %v", lo, err)
	}
	def.NoLanguage = true // lingua's 20 preloaded models take ~1 GB; the other options are tested here
	if st, err := def.Stages(nil); err != nil || st.Matcher != nil || st.Language != nil || st.Text != DefaultTextRules() {
		t.Fatalf("defaults: %+v %v", st, err)
	}
	def.NoLanguage = false
	o := def
	o.Queries, o.FoldCase, o.NoLanguage, o.MinChars, o.MaxChars, o.NoJunk, o.DropInvalidUTF8 = queries, true, true, 1, 50, true, true
	st, err := o.Stages(nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Matcher == nil || st.Matcher.Len() != 2 || st.Language != nil || !st.DropInvalidUTF8 ||
		st.Text != (TextRules{MinChars: 1, MinWords: 2, MaxChars: 50, NoJunk: true}) {
		t.Fatalf("stages %+v", st)
	}
	if v := st.Evaluate("A BLUE SQUARE on white", nil); v.Reason != Kept || len(v.Matches) != 1 {
		t.Errorf("fold case: %+v", v)
	}

	o = def
	o.Languages, o.DetectLanguages, o.LowAccuracy, o.NoLexical, o.LangCache = "en,German", "fr", true, true, -1
	lo, err := o.LanguageOptions()
	if err != nil {
		t.Fatal(err)
	}
	if len(lo.Keep) != 2 || lo.Keep[1] != lingua.German || len(lo.Detect) != 1 || lo.Detect[0] != lingua.French ||
		!lo.LowAccuracy || !lo.NoLexical || lo.CacheSize != -1 {
		t.Errorf("language options %+v", lo)
	}

	for _, tc := range []struct {
		edit func(*StageOptions)
		want string
	}{
		{func(o *StageOptions) { o.Queries = filepath.Join(t.TempDir(), "missing.txt") }, "queries: "},
		{func(o *StageOptions) { o.Languages = "en,klingon" }, "languages: "},
		{func(o *StageOptions) { o.DetectLanguages = "xx" }, "detect_languages: "},
	} {
		o := def
		tc.edit(&o)
		if _, err := o.Stages(nil); err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("error %v, want prefix %q", err, tc.want)
		}
	}
}
