package eval

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestTestdataFixtures(t *testing.T) {
	cls, err := LoadClasses("testdata/emoji-groups.txt")
	if err != nil {
		t.Fatal(err)
	}
	if len(cls) != 9 || cls[3] != (Class{"food-drink", "food and drink"}) {
		t.Errorf("groups %+v", cls)
	}
	tpl, err := ResolveTemplates("testdata/emoji-templates.txt")
	if err != nil || len(tpl) != 4 || tpl[1] != "an emoji of {}." {
		t.Errorf("templates %q %v", tpl, err)
	}
}

// FuzzParseClasses: any input gives classes with unique, trimmed, non-empty labels and names, or
// an error; never a panic.
func FuzzParseClasses(f *testing.F) {
	f.Add([]byte("a\nb\tbee\n# c\n\n"))
	f.Add([]byte("food-drink\tfood and drink\r\nsymbols\n"))
	f.Add([]byte("a\na\n"))
	f.Add([]byte("\t\n \t x\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cls, err := ParseClasses(bytes.NewReader(data), "fuzz")
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, c := range cls {
			if seen[c.Label] {
				t.Fatalf("duplicate label %q", c.Label)
			}
			seen[c.Label] = true
			if c.Name == "" || c.Label == "" || strings.TrimSpace(c.Label) != c.Label {
				t.Fatalf("class %+v", c)
			}
		}
	})
}

// FuzzParseTemplates: accepted templates all hold the placeholder and fill without panics.
func FuzzParseTemplates(f *testing.F) {
	f.Add([]byte("a photo of a {}.\n# x\n{}\n"))
	f.Add([]byte("no placeholder\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		tpl, err := ParseTemplates(bytes.NewReader(data), "fuzz")
		if err != nil {
			return
		}
		for _, s := range tpl {
			if !strings.Contains(s, Placeholder) {
				t.Fatalf("template %q without placeholder", s)
			}
			if p := Prompt(s, "x"); utf8.ValidString(s) && !utf8.ValidString(p) {
				t.Fatalf("prompt %q", p)
			}
		}
	})
}
