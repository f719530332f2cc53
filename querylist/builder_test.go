package querylist

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/witdata/wit/querymatch"
)

func TestReadWordNet(t *testing.T) {
	lemmas, err := ReadWordNet("testdata/wordnet", WordNetLemmas)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"entity", "physical entity", "New York", "New York City", "hot dog",
		"H. pylori", "Klebs-Loeffler bacillus", "apple", "Paris", "out of reach", "astir"} {
		if !slices.Contains(lemmas, want) {
			t.Errorf("lemma %q missing", want)
		}
	}
	for _, l := range lemmas {
		if strings.ContainsAny(l, "_()") && !strings.Contains(l, "(") {
			t.Errorf("uncleaned lemma %q", l)
		}
		if strings.HasSuffix(l, "(p)") || strings.Contains(l, "_") {
			t.Errorf("uncleaned lemma %q", l)
		}
	}
	if first := lemmas[0]; first != "able" { // data.adj comes first, as in NLTK
		t.Errorf("first lemma %q", first)
	}
	seen := map[string]bool{}
	for _, l := range lemmas {
		if seen[l] {
			t.Errorf("duplicate %q", l)
		}
		seen[l] = true
	}
	heads, err := ReadWordNet("testdata/wordnet", WordNetSynsets)
	if err != nil {
		t.Fatal(err)
	}
	if len(heads) >= len(lemmas) || !slices.Contains(heads, "new york") || slices.Contains(heads, "New York City") {
		t.Errorf("synset heads: %d (lemmas %d), %q", len(heads), len(lemmas), heads[:5])
	}
}

func TestReadWordNetErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadWordNet(dir, ""); err == nil || !strings.Contains(err.Error(), "none of") {
		t.Fatalf("empty dir: %v", err)
	}
	if _, err := ReadWordNet("testdata/wordnet", "bogus"); err == nil {
		t.Fatal("bad mode accepted")
	}
	for name, content := range map[string]string{
		"garbage":   "  1 licence line\nthis is not wordnet\n",
		"bad count": "00001740 03 n zz entity 0 003 ~ 00001930 n 0000 |\n",
		"short":     "00001740 03 n 05 entity 0 |\n",
		"empty":     "  1 licence only\n",
	} {
		os.WriteFile(filepath.Join(dir, "data.noun"), []byte(content), 0o644)
		_, err := ReadWordNet(dir, "")
		if err == nil || !strings.Contains(err.Error(), "data.noun") {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

func TestTokenize(t *testing.T) {
	type tok struct {
		s      string
		joined bool
	}
	for _, tc := range []struct {
		in   string
		want []tok
	}{
		{"The New York Times", []tok{{"The", false}, {"New", true}, {"York", true}, {"Times", true}}},
		{"Paris, France.", []tok{{"Paris", false}, {"France", false}}},
		{"(New York) is big", []tok{{"New", false}, {"York", true}, {"is", false}, {"big", true}}},
		{"the U.S. army", []tok{{"the", false}, {"U", true}, {"S", false}, {"army", false}}},
		{"don't stop -- well-known 1990 AT&T", []tok{{"don't", false}, {"stop", true}, {"well-known", false}, {"AT&T", false}}},
		{"`` quoted '' text", []tok{{"quoted", false}, {"text", false}}},
		{"café  über\u00a0naïve", []tok{{"café", false}, {"über", true}, {"naïve", true}}},
		{"", nil},
	} {
		var got []tok
		tokenizeLine([]byte(tc.in), func(b []byte, j bool) { got = append(got, tok{string(b), j}) })
		if !slices.Equal(got, tc.want) {
			t.Errorf("%q: got %v want %v", tc.in, got, tc.want)
		}
	}
}

func TestBuilderRecipe(t *testing.T) {
	b := NewBuilder(BuildOptions{MinUnigramCount: 2, MinBigramCount: 2, MinBigramPMI: math.Log(2), MinTitleCount: 5})
	if err := b.AddWordNet("testdata/wordnet"); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open("testdata/corpus.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := b.AddCorpus(context.Background(), f); err != nil {
		t.Fatal(err)
	}
	if err := b.AddTitles(strings.NewReader("Barack_Obama\t100\nObscure page\t4\nNew York\t90\nObscure page\t3\n")); err != nil {
		t.Fatal(err)
	}
	entries, st := b.Build()
	// MetaCLIP's order: wordnet, unigrams, bigrams, titles.
	order := []string{SourceWordNet, SourceUnigram, SourceBigram, SourceTitle}
	last := 0
	pos := map[string]int{}
	for i, e := range entries {
		k := slices.Index(order, e.Source)
		if k < last {
			t.Fatalf("entry %d %q (%s) out of order", i, e.Text, e.Source)
		}
		last = k
		if _, dup := pos[e.Text]; dup {
			t.Fatalf("duplicate %q", e.Text)
		}
		pos[e.Text] = i
	}
	if st.Added[SourceWordNet] == 0 || st.Added[SourceUnigram] == 0 || st.Added[SourceBigram] == 0 {
		t.Fatalf("stats %+v", st)
	}
	// Words already in WordNet keep their WordNet source.
	if i, ok := pos["entity"]; !ok || entries[i].Source != SourceWordNet {
		t.Error("entity not from wordnet")
	}
	for _, w := range []string{"the", "Congress"} {
		if i, ok := pos[w]; !ok || entries[i].Source != SourceUnigram {
			t.Errorf("unigram %q missing", w)
		}
	}
	if _, ok := pos["Mr. Speaker"]; ok {
		t.Error("bigram across punctuation")
	}
	// Titles: counts add up, "New York" (WordNet) is not repeated, the
	// obscure page (4+3 >= 5) passes.
	var titles []string
	for _, e := range entries {
		if e.Source == SourceTitle {
			titles = append(titles, e.Text)
		}
	}
	if !slices.Equal(titles, []string{"Barack Obama", "Obscure page"}) {
		t.Errorf("titles %q", titles)
	}
	if st.Duplicates[SourceTitle] != 1 {
		t.Errorf("title duplicates %d", st.Duplicates[SourceTitle])
	}
	// The cap keeps the head of the list.
	b.opts.MaxEntries = 1000
	capped, cst := b.Build()
	if len(capped) != 1000 || !slices.Equal(capped, entries[:1000]) || cst.Capped[SourceTitle] != 2 {
		t.Errorf("cap: %d entries, capped %v", len(capped), cst.Capped)
	}
	// Bigrams pass both thresholds.
	for _, e := range entries {
		if e.Source != SourceBigram {
			continue
		}
		l, r, _ := strings.Cut(e.Text, " ")
		c := b.bigrams.get(e.Text)
		if c < 2 || BigramPMI(uint64(c), uint64(b.unigrams.get(l)), uint64(b.unigrams.get(r)), float64(b.tokens)) < math.Log(2) {
			t.Errorf("bigram %q below thresholds", e.Text)
		}
	}
}

func TestBuilderDeterministic(t *testing.T) {
	build := func() []Entry {
		b := NewBuilder(BuildOptions{MinUnigramCount: 1, MinBigramCount: 1})
		data, _ := os.ReadFile("testdata/corpus.txt")
		b.AddCorpus(context.Background(), bytes.NewReader(data))
		e, _ := b.Build()
		return e
	}
	if !slices.Equal(build(), build()) {
		t.Fatal("two builds differ")
	}
}

func TestAddCorpusErrors(t *testing.T) {
	b := NewBuilder(BuildOptions{})
	err := b.AddCorpus(context.Background(), strings.NewReader("fine\nbad \xff here\n"))
	if err == nil || !strings.Contains(err.Error(), "line 2: invalid UTF-8") {
		t.Fatalf("err = %v", err)
	}
	for _, in := range []string{"no tab\n", "x\tnot-a-number\n", "x\t-5\n", ""} {
		if err := b.AddTitles(strings.NewReader(in)); err == nil {
			t.Errorf("titles %q accepted", in)
		}
	}
}

func TestCounterPrune(t *testing.T) {
	c := newCounter("test", 100)
	for i := 0; i < 1000; i++ {
		c.add([]byte("frequent"))
		c.add([]byte("rare" + string(rune('a'+i%26)) + string(rune('a'+i/26))))
	}
	if c.len() > 101 {
		t.Fatalf("%d keys", c.len())
	}
	if c.prunes == 0 || c.get("frequent") < 1000-c.lost {
		t.Fatalf("frequent = %d, lost %d, prunes %d", c.get("frequent"), c.lost, c.prunes)
	}
}

const testDump = `<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/" version="0.10" xml:lang="en">
  <siteinfo><sitename>Wikipedia</sitename></siteinfo>
  <page>
    <title>Dog</title><ns>0</ns><id>1</id>
    <revision><id>10</id><text bytes="1" xml:space="preserve">{{Infobox animal|name=Dog|image=Dog.jpg}}
The '''dog''' (''Canis familiaris'') is a [[domestic animal|domesticated]] descendant of the [[wolf]].&lt;ref name="a"&gt;Smith, ''Dogs'', 2001&lt;/ref&gt;
[[File:Dog.jpg|thumb|A [[dog]] in [[New York City]]]]
== History ==
* Dogs were the first species to be domesticated.&lt;ref&gt;{{cite web|url=http://x}}&lt;/ref&gt;
{| class="wikitable"
|-
| table cell || Zebra
|}
See [http://example.org the dog site] and &lt;span style="x"&gt;New York City&lt;/span&gt; &amp;nbsp;too.
&lt;!-- hidden comment Zebra --&gt;
&lt;math&gt;x^2 Zebra&lt;/math&gt;
[[Category:Dogs]] [[de:Hund]] __NOTOC__
</text></revision>
  </page>
  <page>
    <title>Doggy</title><ns>0</ns><id>2</id><redirect title="Dog" />
    <revision><text>#REDIRECT [[Dog]]</text></revision>
  </page>
  <page>
    <title>Talk:Dog</title><ns>1</ns><id>3</id>
    <revision><text>talk page text about [[wolf]] Zebra</text></revision>
  </page>
  <page>
    <title>Wolf</title><ns>0</ns><id>4</id>
    <revision><text>The [[wolf]] is related to the [[dog]]. Wolves live in [[New York City#Parks|New York]] too.</text></revision>
  </page>
</mediawiki>
`

func bz2(t *testing.T, data string) []byte {
	t.Helper()
	path, err := exec.LookPath("bzip2")
	if err != nil {
		t.Skip("bzip2 command not installed (needed to make the test dump)")
	}
	cmd := exec.Command(path, "-c")
	cmd.Stdin = strings.NewReader(data)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestStripWikitext(t *testing.T) {
	var links []string
	var page WikiPage
	for p, err := range ReadWikipediaDump(context.Background(), strings.NewReader(testDump)) {
		if err != nil {
			t.Fatal(err)
		}
		page = p
		break
	}
	text := StripWikitext(page.Text, func(l string) { links = append(links, l) })
	for _, want := range []string{"The dog (Canis familiaris) is a domesticated descendant of the wolf.",
		"History", "Dogs were the first species to be domesticated.", "the dog site", "New York City \u00a0too."} {
		if !strings.Contains(text, want) {
			t.Errorf("stripped text lacks %q:\n%s", want, text)
		}
	}
	for _, bad := range []string{"Zebra", "Infobox", "Smith", "http", "[[", "{{", "'''", "<", "Category", "Hund", "NOTOC", "=="} {
		if strings.Contains(text, bad) {
			t.Errorf("stripped text keeps %q:\n%s", bad, text)
		}
	}
	if !slices.Equal(links, []string{"Domestic animal", "Wolf"}) {
		t.Errorf("links %q", links)
	}
}

func TestAddWikipediaDump(t *testing.T) {
	data := bz2(t, testDump)
	b := NewBuilder(BuildOptions{MinUnigramCount: 2, MinBigramCount: 2, MinBigramPMI: 0.01, MinTitleCount: 2})
	st, err := b.AddWikipediaDump(context.Background(), bytes.NewReader(data), nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Pages != 4 || st.Articles != 2 || st.Redirects != 1 {
		t.Fatalf("stats %+v", st)
	}
	if b.unigrams.get("Zebra") != 0 {
		t.Error("text of talk page, table or comment counted")
	}
	if b.unigrams.get("wolf") < 2 {
		t.Errorf("wolf = %d", b.unigrams.get("wolf"))
	}
	entries, _ := b.Build()
	got := map[string]string{}
	for _, e := range entries {
		got[e.Text] = e.Source
	}
	// Links: Wolf 2 (Dog and Wolf pages), Dog 1, New York City 1.
	if got["Wolf"] != SourceTitle || got["Dog"] != "" {
		t.Errorf("titles: %v", got)
	}
	if got["New York"] != SourceBigram {
		t.Errorf("bigram New York: %v", got)
	}
}

func TestWikipediaDumpErrors(t *testing.T) {
	ctx := context.Background()
	run := func(r *bytes.Reader) error {
		b := NewBuilder(BuildOptions{})
		_, err := b.AddWikipediaDump(ctx, r, nil)
		return err
	}
	if err := run(bytes.NewReader(nil)); err == nil || !strings.Contains(err.Error(), "no <page>") {
		t.Errorf("empty: %v", err)
	}
	if err := run(bytes.NewReader([]byte("<mediawiki><page><title>x</title><ns>0</ns><revision><text>abc"))); err == nil {
		t.Error("truncated XML accepted")
	}
	data := bz2(t, testDump)
	corrupt := slices.Clone(data)
	corrupt[len(corrupt)/2] ^= 0xff
	if err := run(bytes.NewReader(corrupt)); err == nil {
		t.Error("corrupt bzip2 accepted")
	}
	if err := run(bytes.NewReader(data[:len(data)/2])); err == nil {
		t.Error("truncated bzip2 accepted")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	b := NewBuilder(BuildOptions{})
	if _, err := b.AddWikipediaDump(cctx, bytes.NewReader(data), nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

func TestBuildFile(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "q.txt.gz")
	cfg := BuildConfig{Out: out, WordNetDir: "testdata/wordnet", Corpora: []string{"testdata/corpus.txt"},
		Options: BuildOptions{MinUnigramCount: 3, MinBigramCount: 3}}
	entries, st, err := BuildFile(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	read, err := ReadEntries(out)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(read, entries) || st.Added[SourceUnigram] == 0 {
		t.Fatalf("round trip: %d written, %d read", len(entries), len(read))
	}
	raw, _ := os.ReadFile(out)
	if _, err := gzip.NewReader(bytes.NewReader(raw)); err != nil {
		t.Fatal("not gzip")
	}
	m, err := querymatch.LoadFile(out, querymatch.Options{})
	if err != nil || m.Len() != len(entries) {
		t.Fatal(err)
	}
	// A failing input leaves the old output alone and no temp files.
	cfg.Corpora = append(cfg.Corpora, filepath.Join(dir, "missing.txt"))
	if _, _, err := BuildFile(context.Background(), cfg); err == nil {
		t.Fatal("missing corpus accepted")
	}
	after, _ := os.ReadFile(out)
	if !bytes.Equal(raw, after) {
		t.Fatal("output changed by a failed build")
	}
	files, _ := os.ReadDir(dir)
	if len(files) != 1 {
		t.Fatalf("leftover files: %v", files)
	}
	if _, _, err := BuildFile(context.Background(), BuildConfig{Out: out}); err == nil {
		t.Fatal("no sources accepted")
	}
}

func FuzzStripWikitext(f *testing.F) {
	for _, s := range []string{"{{a|[[b|c]]}} d", "[[a|[[b]]]]", "{| x |}", "<ref>x", "<!-- x", "''a'''b", "[http://x y", "[[:a]] [[de:b]]", "== h ==\n* x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := StripWikitext(s, func(string) {})
		if len(out) > len(s)+len(s)/2+16 { // entities can only shrink; nothing is invented
			t.Fatalf("output longer than input: %q -> %q", s, out)
		}
	})
}

func FuzzTokenize(f *testing.F) {
	f.Add("The U.S. (New York) don't\u00a0stop, ok")
	f.Fuzz(func(t *testing.T, s string) {
		tokenizeLine([]byte(s), func(tok []byte, _ bool) {
			if len(tok) == 0 || bytes.ContainsAny(tok, " \t\n,.;:?!`") {
				t.Fatalf("bad token %q from %q", tok, s)
			}
		})
	})
}

// Unclosed constructs must not make stripping quadratic.
func TestStripWikitextHostile(t *testing.T) {
	for _, s := range []string{strings.Repeat("<ref>x ", 100000), strings.Repeat("{{", 300000),
		strings.Repeat("[[a|", 100000), strings.Repeat("<math>", 100000), strings.Repeat("[http://x ", 100000),
		strings.Repeat("<!--", 100000), strings.Repeat("<a b", 100000), strings.Repeat("</ref><ref>", 50000)} {
		start := time.Now()
		StripWikitext(s, nil)
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%q…: %v", s[:12], d)
		}
	}
}
