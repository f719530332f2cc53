package stageset

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/witdata/wit/filter"
)

func TestBuild(t *testing.T) {
	queries := filepath.Join(t.TempDir(), "q.txt")
	if err := os.WriteFile(queries, []byte("dog\ncat\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		set     Settings
		entries int // 0: no matcher
		err     bool
	}{
		{name: "no queries", set: Settings{NoLanguage: true, Text: filter.DefaultTextRules()}},
		{name: "query file", set: Settings{Queries: queries, NoLanguage: true}, entries: 2},
		{name: "missing query file", set: Settings{Queries: queries + ".missing", NoLanguage: true}, err: true},
		{name: "bad language", set: Settings{Languages: "xx-not-a-language"}, err: true},
	}
	for _, tt := range tests {
		st, err := tt.set.Build(nil)
		if (err != nil) != tt.err {
			t.Errorf("%s: err %v", tt.name, err)
			continue
		}
		if err != nil {
			continue
		}
		if st.Text != tt.set.Text || st.Language != nil {
			t.Errorf("%s: stages %+v", tt.name, st)
		}
		if got := 0; st.Matcher != nil {
			got = st.Matcher.Len()
			if got != tt.entries {
				t.Errorf("%s: %d entries, want %d", tt.name, got, tt.entries)
			}
		} else if tt.entries != 0 {
			t.Errorf("%s: no matcher", tt.name)
		}
	}
}

// Settings travel in job specs as YAML: what is written is read back the same.
func TestSettingsYAML(t *testing.T) {
	s := Default()
	s.Queries, s.FoldCase, s.Text.NoJunk, s.DetectLanguages = "default", true, true, "all"
	data, err := yaml.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var back Settings
	if err := yaml.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, s) {
		t.Errorf("round trip: %+v, want %+v", back, s)
	}
}
