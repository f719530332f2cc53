package filter

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestNormalize(t *testing.T) {
	tests := []struct {
		in, want string
		repaired bool
	}{
		{"A dog", "A dog", false},
		{"  A \t dog\n on  grass ", "A dog on grass", false},
		{"Fish &amp; chips", "Fish & chips", false},
		{"Fish &amp;amp; chips", "Fish & chips", false}, // double-escaped
		{"caf&eacute; &#8211; &quot;Paris&quot;", "café – \"Paris\"", false},
		{"non\u00a0breaking\u200bspace", "non breaking space", false},
		{"bad \xff\xfe bytes", "bad bytes", true},
		{"ctrl\x00\x07chars", "ctrlchars", false},
		{"", "", false},
		{"   ", "", false},
		{"Tom & Jerry", "Tom & Jerry", false},
	}
	for _, tt := range tests {
		got, rep := Normalize(tt.in)
		if got != tt.want || rep != tt.repaired {
			t.Errorf("Normalize(%q) = %q, %v; want %q, %v", tt.in, got, rep, tt.want, tt.repaired)
		}
	}
}

func TestTextRules(t *testing.T) {
	r := DefaultTextRules()
	tests := []struct {
		in   string
		want Reason
	}{
		{"A black dog running on the beach", Kept},
		{"Chien noir", Kept},
		{"", ReasonEmpty},
		{"IMG_1234.JPG", ReasonJunkFilename},
		{"DSC0001", ReasonJunkFilename},
		{"DSCN1234", ReasonJunkFilename},
		{"image.png", ReasonJunkFilename},
		{"my holiday.jpeg", ReasonJunkFilename},
		{"PXL_20210101_123456789", ReasonJunkFilename},
		{"Screenshot 2021-03-04 101112", ReasonJunkFilename},
		{"IMG 1234", ReasonJunkFilename},
		{"https://example.com/a.jpg", ReasonJunkURL},
		{"www.example.com", ReasonJunkURL},
		{"example.com/path/x", ReasonJunkURL},
		{"image", ReasonBoilerplate},
		{"Logo", ReasonBoilerplate},
		{"untitled", ReasonBoilerplate},
		{"spacer", ReasonBoilerplate},
		{"photo 3", ReasonBoilerplate},
		{"Click here", ReasonBoilerplate},
		{"placeholder-image", ReasonTooFewWords}, // hyphenated word not in the list: judged by length rules
		{"12/05/2020 10:45", ReasonJunkSymbols},
		{"$ 19.99 - $ 29.99", ReasonJunkSymbols},
		{"★★★★★ 5/5", ReasonJunkSymbols},
		{"dogs", ReasonTooShort},
		{"a b", ReasonTooShort},
		{"Dachshund", ReasonTooFewWords},
		{strings.Repeat("word ", 250), ReasonTooLong},
		{"黒い犬が浜辺を走る", Kept}, // unspaced script: characters count as words
		{"Golden retriever puppy", Kept},
		{"The DSC0001 camera review", Kept},
	}
	for _, tt := range tests {
		if got := r.Check(tt.in); got != tt.want {
			t.Errorf("Check(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	off := TextRules{NoJunk: true}
	if got := off.Check("IMG_1234.JPG"); got != Kept {
		t.Errorf("rules off: Check = %q, want kept", got)
	}
}

func TestScriptProfile(t *testing.T) {
	tests := []struct {
		in   string
		want Script
	}{
		{"A black dog", ScriptLatin},
		{"Чёрная собака", ScriptCyrillic},
		{"黒い犬", ScriptKana},
		{"黑狗", ScriptHan},
		{"검은 개", ScriptHangul},
		{"كلب أسود", ScriptArabic},
		{"Μαύρος σκύλος", ScriptGreek},
		{"123 !!", ScriptNone},
		{"iPhone 15 Про Макс", ScriptCyrillic},
	}
	for _, tt := range tests {
		if got := ProfileScripts(tt.in).Dominant(); got != tt.want {
			t.Errorf("Dominant(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestLRU(t *testing.T) {
	c := newLRU[int](3)
	for i := range 3 {
		c.Put(uint64(i), i)
	}
	if _, ok := c.Get(0); !ok { // 0 becomes most recent; 1 is now the oldest
		t.Fatal("0 missing")
	}
	c.Put(3, 3)
	if _, ok := c.Get(1); ok {
		t.Error("1 should have been evicted")
	}
	for _, k := range []uint64{0, 2, 3} {
		if v, ok := c.Get(k); !ok || v != int(k) {
			t.Errorf("Get(%d) = %v, %v", k, v, ok)
		}
	}
	if c.Len() != 3 {
		t.Errorf("Len = %d", c.Len())
	}
	c.Put(3, 30)
	if v, _ := c.Get(3); v != 30 {
		t.Errorf("update: %d", v)
	}
	for i := range 1000 {
		c.Put(uint64(100+i), i)
	}
	if c.Len() != 3 {
		t.Errorf("bounded: Len = %d", c.Len())
	}
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"A dog", "&amp;amp;", "\xff", " a\u00a0b ", "IMG_0001.JPG", "&#x1F600;"} {
		f.Add(s)
	}
	r := DefaultTextRules()
	f.Fuzz(func(t *testing.T, s string) {
		n, _ := Normalize(s)
		if !utf8.ValidString(n) {
			t.Fatalf("invalid UTF-8 out of %q", s)
		}
		if strings.HasPrefix(n, " ") || strings.HasSuffix(n, " ") || strings.Contains(n, "  ") {
			t.Fatalf("white space not collapsed: %q", n)
		}
		_ = r.Check(n)
		_ = ProfileScripts(n).Dominant()
	})
}
