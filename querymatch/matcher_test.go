package querymatch

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/witdata/wit/internal/procstat"
)

// metaclipMatch is MetaCLIP's substring_matching, written the way their
// Python does it (one replace per character, one substring test per entry),
// with the entries spaced like the text (see Matcher). The reference for the
// hash matcher.
func metaclipMatch(entries []string, text string, fold bool) []int32 {
	spaced := " " + text + " "
	for _, p := range []string{",", ".", ";", ":", "?", "!", "`"} {
		spaced = strings.ReplaceAll(spaced, p, " "+p+" ")
	}
	for _, c := range []string{"\t", "\n", "\r"} {
		spaced = strings.ReplaceAll(spaced, c, " ")
	}
	if fold {
		spaced = foldString(spaced)
	}
	var ids []int32
	for id, e := range entries {
		k := spaceEntry(e, fold)
		if k != "" && strings.Contains(spaced, " "+k+" ") {
			ids = append(ids, int32(id))
		}
	}
	return ids
}

func foldString(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := rune(s[i]), 1
		if r >= 0x80 {
			r, size = decodeRune(s[i:])
			if size == 1 { // invalid byte kept
				b.WriteByte(s[i])
				i++
				continue
			}
		}
		b.WriteRune(foldRune(r))
		i += size
	}
	return b.String()
}

func decodeRune(s string) (rune, int) {
	for _, r := range s {
		if r == 0xFFFD && !strings.HasPrefix(s, "\uFFFD") {
			return r, 1
		}
		return r, len(string(r))
	}
	return 0, 1
}

func mustMatcher(t testing.TB, entries []string, opts Options) *Matcher {
	t.Helper()
	m, err := New(entries, nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestMatchTable(t *testing.T) {
	entries := []string{
		"dog", "hot dog", "hot", "New York", "New York City", "York", "U.S.", "U.S. Army",
		"e-mail", "mail", "café", "Straße", "σοφία", "東京", "rock and roll", "and", "?", "Dr. Who",
		"it's", "C++", "a  b", "wordofsixteenbyt", "word-of-twenty-bytes", "a word-of-more-than-twenty-four-bytes",
		// Same length, first 16 and last 8 bytes: one home slot, told apart by probing.
		"prefix-of-16-byt-middle-A-last-8-b", "prefix-of-16-byt-middle-B-last-8-b",
	}
	tests := []struct {
		name string
		text string
		fold bool
		want []string
	}{
		{"whole word", "A dog running", false, []string{"dog"}},
		{"not inside a word", "dogs and hotdogs", false, []string{"and"}},
		{"comma and period spaced", "my dog, the hot dog.", false, []string{"dog", "hot dog", "hot"}},
		{"overlapping multi-word", "New York City at night", false, []string{"New York", "New York City", "York"}},
		{"repeated entry reported once", "dog dog dog", false, []string{"dog"}},
		{"case-sensitive by default", "DOG and Dog", false, []string{"and"}},
		{"fold case", "DOG in NEW YORK", true, []string{"dog", "New York", "York"}},
		{"internal punctuation entry", "the U.S. Army base", false, []string{"U.S.", "U.S. Army"}},
		{"punctuation glued", "U.S.Army", false, []string{"U.S."}},
		{"hyphen is part of a word", "send e-mail now", false, []string{"e-mail"}},
		{"quotes are not spaced (MetaCLIP)", `a "dog" and (hot dog)`, false, []string{"and"}},
		{"double space breaks multi-word", "New  York", false, []string{"York"}},
		{"tab and newline are spaces", "New\tYork\nCity", false, []string{"New York", "New York City", "York"}},
		{"unicode words", "Un café à Straße", false, []string{"café", "Straße"}},
		{"unicode fold", "CAFÉ STRASSE ΣΟΦΊΑ", true, []string{"café", "σοφία"}},
		{"final sigma folds", "σοφίας σοφίαΣ ΣΟΦΊΑ", true, []string{"σοφία"}},
		{"cjk", "東京 タワー", false, []string{"東京"}},
		{"question mark entry", "why?", false, []string{"?"}},
		{"exclamation spaced", "hot!dog", false, []string{"dog", "hot"}},
		{"abbreviation with space", "Dr. Who returns", false, []string{"Dr. Who"}},
		{"apostrophe kept", "it's a dog's life", false, []string{"it's"}},
		{"plus sign kept", "C++ code", false, []string{"C++"}},
		{"entry with double space", "a  b", false, []string{"a  b"}},
		{"empty text", "", false, nil},
		{"only punctuation", ",.;:!`", false, nil},
		{"invalid utf-8 survives", "dog \xff\xfe hot", true, []string{"dog", "hot"}},
		{"rock and roll", "rock and roll music", false, []string{"rock and roll", "and"}},
		{"long words", "wordofsixteenbyt word-of-twenty-bytes a word-of-more-than-twenty-four-bytes", false,
			[]string{"wordofsixteenbyt", "word-of-twenty-bytes", "a word-of-more-than-twenty-four-bytes"}},
		{"long words sharing a home slot", "prefix-of-16-byt-middle-B-last-8-b prefix-of-16-byt-middle-C-last-8-b", false,
			[]string{"prefix-of-16-byt-middle-B-last-8-b"}},
		{"long words differing late", "wordofsixteenbyx word-of-twenty-bytez a word-of-more-than-twenty-four-bytez", false, nil},
	}
	for _, fold := range []bool{false, true} {
		m := mustMatcher(t, entries, Options{FoldCase: fold})
		for _, tc := range tests {
			if tc.fold != fold {
				continue
			}
			t.Run(tc.name, func(t *testing.T) {
				got := m.Match(tc.text, nil)
				slices.Sort(got)
				want := slices.Clone(tc.want)
				slices.Sort(want)
				if !slices.Equal(got, want) {
					t.Errorf("Match(%q) = %q, want %q", tc.text, got, want)
				}
				ref := metaclipMatch(entries, tc.text, fold)
				ids := m.MatchIDs(tc.text, nil)
				slices.Sort(ids)
				if !slices.Equal(ids, ref) {
					t.Errorf("MatchIDs(%q) = %v, substring reference %v", tc.text, ids, ref)
				}
			})
		}
	}
}

func TestMatchFoldDuplicates(t *testing.T) {
	// "Apple" and "apple" are one key when folding: both ids are reported.
	m := mustMatcher(t, []string{"Apple", "apple", "pie"}, Options{FoldCase: true})
	got := m.MatchIDs("APPLE PIE", nil)
	if !slices.Equal(got, []int32{0, 1, 2}) {
		t.Fatalf("got %v", got)
	}
	exact := mustMatcher(t, []string{"Apple", "apple"}, Options{})
	if got := exact.Match("apple", nil); !slices.Equal(got, []string{"apple"}) {
		t.Fatalf("exact got %v", got)
	}
}

func TestMatchAppendsToDst(t *testing.T) {
	m := mustMatcher(t, []string{"dog", "cat"}, Options{})
	dst := []int32{1} // earlier content is kept, and does not count as a duplicate
	dst = m.MatchIDs("cat dog", dst)
	if !slices.Equal(dst, []int32{1, 1, 0}) {
		t.Fatalf("got %v", dst)
	}
}

func TestMatchLongText(t *testing.T) {
	// Longer than the stack buffer: still correct.
	m := mustMatcher(t, []string{"needle in", "end"}, Options{})
	text := strings.Repeat("hay, ", 500) + "needle in the end"
	got := m.Match(text, nil)
	slices.Sort(got)
	if !slices.Equal(got, []string{"end", "needle in"}) {
		t.Fatalf("got %v", got)
	}
}

func TestLoadErrors(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"empty", "", "no entries"},
		{"blank lines", "\n\n\r\n", "no entries"},
		{"invalid utf8", "dog\n\xffcat\n", "line 2: invalid UTF-8"},
		{"empty entry", "dog\n\tunigram\n", "line 2: empty entry"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(strings.NewReader(tc.in), Options{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.txt.gz")
	os.WriteFile(bad, []byte("not gzip"), 0o644)
	if _, err := LoadFile(bad, Options{}); err == nil || !strings.Contains(err.Error(), "bad.txt.gz") {
		t.Fatalf("corrupt gz: err = %v", err)
	}
	if _, err := LoadFile(filepath.Join(dir, "missing.txt"), Options{}); err == nil {
		t.Fatal("missing file: no error")
	}
	// A truncated gzip stream is an error, not a shorter list.
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write([]byte(strings.Repeat("dog\tunigram\n", 1000)))
	zw.Close()
	trunc := filepath.Join(dir, "trunc.txt.gz")
	os.WriteFile(trunc, buf.Bytes()[:buf.Len()/2], 0o644)
	if _, err := LoadFile(trunc, Options{}); err == nil {
		t.Fatal("truncated gz: no error")
	}
}

func TestLoadSources(t *testing.T) {
	m, err := Load(strings.NewReader("dog\twordnet\r\nhot dog\tbigram\ncat\n"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if m.Len() != 3 || m.Entry(1) != "hot dog" || m.Source(1) != "bigram" || m.Source(2) != "" || m.MaxWords() != 2 {
		t.Fatalf("len %d entry %q source %q/%q maxwords %d", m.Len(), m.Entry(1), m.Source(1), m.Source(2), m.MaxWords())
	}
}

func TestDefault(t *testing.T) {
	start := time.Now()
	m, err := Default(Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("default list: %d entries, max %d words, loaded in %v", m.Len(), m.MaxWords(), time.Since(start))
	if m.Len() < 150_000 {
		t.Fatalf("default list has only %d entries", m.Len())
	}
	counts := map[string]int{}
	for id := range m.Len() {
		counts[m.Source(int32(id))]++
	}
	for _, src := range []string{"wordnet", "unigram", "bigram"} { // querylist's sources
		if counts[src] == 0 {
			t.Errorf("no %s entries in the default list", src)
		}
	}
	got := m.Match("A hot dog with mustard in New York, photo by the river.", nil)
	for _, want := range []string{"hot dog", "mustard", "New York", "river"} {
		if !slices.Contains(got, want) {
			t.Errorf("default list: %q not matched in %v", want, got)
		}
	}
	m2, _ := Default(Options{})
	if m2 != m {
		t.Error("Default not shared")
	}
}

// TestMatchAgainstReference compares the hash matcher with the substring
// reference on real sentences and a real list.
func TestMatchAgainstReference(t *testing.T) {
	m, err := Default(Options{})
	if err != nil {
		t.Fatal(err)
	}
	// A sample of the default list keeps the O(entries) reference fast.
	rng := rand.New(rand.NewPCG(1, 2))
	var entries []string
	for id := range m.Len() {
		if rng.IntN(20) == 0 {
			entries = append(entries, m.Entry(int32(id)))
		}
	}
	entries = append(entries, "the", "of the", "in the", "U.S.", "Mr. Smith")
	caps := readCaptions(t)
	for _, fold := range []bool{false, true} {
		sm := mustMatcher(t, entries, Options{FoldCase: fold})
		matched := 0
		for _, c := range caps[:300] {
			got := sm.MatchIDs(c, nil)
			slices.Sort(got)
			want := metaclipMatch(entries, c, fold)
			if !slices.Equal(got, want) {
				t.Fatalf("fold=%v %q: got %v want %v", fold, c, got, want)
			}
			if len(got) > 0 {
				matched++
			}
		}
		if matched < 100 {
			t.Fatalf("only %d of 300 captions matched anything", matched)
		}
	}
}

func FuzzMatch(f *testing.F) {
	entries := []string{"dog", "hot dog", "U.S.", "a  b", "?", "Ünïcödé", "x y z", "y", "é", "ß",
		// Words of 9–16, 17–24 and over 24 bytes take other paths in the matcher.
		"mustardseed", "seventeen-letters", "a thirtyish-letter-word-for-tests z", "thirtyish-letter-word-for-tests"}
	for _, s := range []string{"hot dog.", "U.S.A", "a  b", "ÜNÏCÖDÉ!", "x y z?", "\xff dog",
		"mustardseed, seventeen-letters", "a thirtyish-letter-word-for-tests z", "thirtyish-letter-word-for-testz"} {
		f.Add(s)
	}
	exact := mustMatcher(f, entries, Options{})
	folded := mustMatcher(f, entries, Options{FoldCase: true})
	f.Fuzz(func(t *testing.T, text string) {
		for _, m := range []*Matcher{exact, folded} {
			got := m.MatchIDs(text, nil)
			// In windows of 5 bytes (matchLong), the same answer.
			l := longText
			longText = 5
			windowed := m.MatchIDs(text, nil)
			longText = l
			if !slices.Equal(windowed, got) {
				t.Fatalf("fold=%v %q: in windows %v, whole %v", m.opts.FoldCase, text, windowed, got)
			}
			slices.Sort(got)
			want := metaclipMatch(entries, text, m.opts.FoldCase)
			if !slices.Equal(got, want) {
				t.Fatalf("fold=%v %q: got %v want %v", m.opts.FoldCase, text, got, want)
			}
		}
	})
}

func readCaptions(t testing.TB) []string {
	t.Helper()
	f, err := os.Open("testdata/captions.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

// list500k is the default list padded to 500,000 entries with bigrams and
// trigrams of its own words (the shipped list is ~205k: small corpora give
// fewer entries than Wikipedia), so the table has the size of MetaCLIP's.
func list500k(t testing.TB) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(defaultList))
	if err != nil {
		t.Fatal(err)
	}
	entries, sources, err := readList(zr)
	if err != nil {
		t.Fatal(err)
	}
	var words []string
	for i, e := range entries {
		if sources[i] == "unigram" {
			words = append(words, e)
		}
	}
	seen := make(map[string]bool, 500_000)
	for _, e := range entries {
		seen[e] = true
	}
	rng := rand.New(rand.NewPCG(7, 11))
	for len(entries) < 500_000 {
		e := words[rng.IntN(len(words))] + " " + words[rng.IntN(len(words))]
		if rng.IntN(4) == 0 {
			e += " " + words[rng.IntN(len(words))]
		}
		if !seen[e] {
			seen[e] = true
			entries = append(entries, e)
			sources = append(sources, "synthetic")
		}
	}
	var buf bytes.Buffer
	for i, e := range entries {
		buf.WriteString(e)
		buf.WriteByte('\t')
		buf.WriteString(sources[i])
		buf.WriteByte('\n')
	}
	return buf.Bytes()
}

func BenchmarkLoad500k(b *testing.B) {
	data := list500k(b)
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	cpu0, n := procstat.CPUTime(), 0
	var tableMB float64
	for b.Loop() {
		m, err := Load(bytes.NewReader(data), Options{})
		if err != nil || m.Len() != 500_000 {
			b.Fatal(err)
		}
		n++
		tableMB = float64(m.TableBytes()) / (1 << 20)
	}
	b.ReportMetric(float64((procstat.CPUTime()-cpu0).Milliseconds())/float64(n), "cpu-ms/load")
	b.ReportMetric(tableMB, "table-MB")
}

func BenchmarkMatch500k(b *testing.B) {
	m, err := Load(bytes.NewReader(list500k(b)), Options{})
	if err != nil {
		b.Fatal(err)
	}
	benchMatch(b, m)
}

func BenchmarkMatch500kFoldCase(b *testing.B) {
	m, err := Load(bytes.NewReader(list500k(b)), Options{FoldCase: true})
	if err != nil {
		b.Fatal(err)
	}
	benchMatch(b, m)
}

func benchMatch(b *testing.B, m *Matcher) {
	caps := readCaptions(b)
	dst := make([]int32, 0, 256)
	matched, n := 0, 0
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := procstat.CPUTime()
	i := 0
	for b.Loop() {
		dst = m.MatchIDs(caps[i], dst[:0])
		matched += len(dst)
		n++
		if i++; i == len(caps) { // not n%len(caps): a 64-bit division costs ~3% of a caption
			i = 0
		}
	}
	// On a shared machine wall time overstates the cost; CPU time per
	// caption is what one core would need.
	cpu := procstat.CPUTime() - cpu0
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(n), "cpu-ns/caption")
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "captions/s")
	b.ReportMetric(float64(matched)/float64(n), "matches/caption")
}

// BenchmarkMatchDefault runs against the shipped list (205k entries).
func BenchmarkMatchDefault(b *testing.B) {
	m, err := Default(Options{})
	if err != nil {
		b.Fatal(err)
	}
	benchMatch(b, m)
}

// BenchmarkMatchSmall uses 2,000 entries (a table that stays in cache): the
// difference to BenchmarkMatch500k is the cost of cache misses.
func BenchmarkMatchSmall(b *testing.B) {
	d, _ := Default(Options{})
	var entries []string
	for id := 0; id < d.Len(); id += d.Len() / 2000 {
		entries = append(entries, d.Entry(int32(id)))
	}
	entries = append(entries, "the", "of", "a", "and", "in", "to", "is")
	benchMatch(b, mustMatcher(b, entries, Options{}))
}

// TestMatcherTablesOutsideHeap builds matchers large enough for allocTable
// to map their tables on their own (on Linux), drops them and collects
// them while others match: a table released too early would crash or
// answer wrongly.
func TestMatcherTablesOutsideHeap(t *testing.T) {
	d, err := Default(Options{})
	if err != nil {
		t.Fatal(err)
	}
	entries := make([]string, d.Len())
	for id := range entries {
		entries[id] = d.Entry(int32(id))
	}
	caps := readCaptions(t)[:200]
	var want [][]int32
	for _, c := range caps {
		want = append(want, d.MatchIDs(c, nil))
	}
	for round := range 3 {
		m := mustMatcher(t, entries, Options{})
		if m.TableBytes() < 4<<20 {
			t.Fatalf("tables of %d bytes: too small to test the mapped tables", m.TableBytes())
		}
		for i, c := range caps {
			if got := m.MatchIDs(c, nil); !slices.Equal(got, want[i]) {
				t.Fatalf("round %d %q: got %v want %v", round, c, got, want[i])
			}
			if i%50 == 0 {
				runtime.GC()
			}
		}
	}
}

// TestSeparators checks the SWAR separator test and both sepMasks against
// sepClass for every byte value at every position, and the tokenizer
// through the matcher: each byte value between two words.
func TestSeparators(t *testing.T) {
	for c := range 256 {
		for k := range 8 {
			x := uint64(0x6161616161616161)&^(0xFF<<(8*k)) | uint64(c)<<(8*k)
			want := uint64(0)
			if sepClass[c] != sepNone {
				want = 0x80 << (8 * k)
			}
			if got := separators(x); got != want {
				t.Fatalf("byte %#x at %d: got %#x want %#x", c, k, got, want)
			}
		}
	}
	// The AVX2 test's tables (the instruction gives 0 for the low nibble
	// of bytes of 0x80 and more).
	lo, hi := sepNibbles()
	for c := range 256 {
		l := lo[c&15]
		if c >= 0x80 {
			l = 0
		}
		if got, want := l&hi[c>>4] != 0, sepClass[c] != sepNone; got != want {
			t.Fatalf("sepNibbles: byte %#x separator %v, want %v", c, got, want)
		}
	}
	// sepMasks against sepClass, on
	// texts of every length up to 200 (all chunk and block boundaries),
	// each byte value in every position.
	rng := rand.New(rand.NewPCG(3, 5))
	for n := range 200 {
		buf := make([]byte, n+textPad)
		for i := range n {
			buf[i] = byte(rng.IntN(256))
			if rng.IntN(3) == 0 {
				buf[i] = " ,.;:?!`\t\n\r"[rng.IntN(11)]
			}
		}
		want := make([]uint64, maskWords(n))
		for i, c := range buf[:n] {
			if sepClass[c] != sepNone {
				want[i/64] |= 1 << (i % 64)
			}
		}
		got := make([]uint64, maskWords(n)+1)
		for i := range got {
			got[i] = ^uint64(0) // stale bits from an earlier text
		}
		sepMasks(buf, n, got)
		if !slices.Equal(got[:len(want)], want) {
			t.Fatalf("sepMasks n=%d %q: got %x want %x", n, buf[:n], got[:len(want)], want)
		}
	}
	entries := []string{"aa", "bb", "aa bb"}
	for _, fold := range []bool{false, true} {
		m := mustMatcher(t, entries, Options{FoldCase: fold})
		for c := range 256 {
			// At several offsets, so the byte falls in each lane of the
			// 8-byte blocks and across the 64-byte boundary.
			for pad := range 70 {
				text := strings.Repeat("z", pad) + " aa" + string([]byte{byte(c)}) + "bb"
				got := m.MatchIDs(text, nil)
				slices.Sort(got)
				if want := metaclipMatch(entries, text, fold); !slices.Equal(got, want) {
					t.Fatalf("fold=%v byte %#x pad %d: got %v want %v", fold, c, pad, got, want)
				}
			}
		}
	}
}

// TestFoldASCII checks appendFolded's 8-bytes-at-a-time path: every ASCII
// byte in every lane, and runs that end in non-ASCII.
func TestFoldASCII(t *testing.T) {
	for c := range 128 {
		for k := range 8 {
			b := []byte("abcdefgh")
			b[k] = byte(c)
			want := slices.Clone(b)
			if c >= 'A' && c <= 'Z' {
				want[k] += 'a' - 'A'
			}
			if got := appendFolded(nil, string(b)); string(got) != string(want) {
				t.Fatalf("%q: got %q want %q", b, got, want)
			}
		}
	}
	for _, s := range []string{"ABCDEFGHIJKLMNOPÜBER", "Straße IN BERLIN", "ΣΟΦΊΑ AND SOPHIA!", "12345678@[`{Z"} {
		if got, want := string(appendFolded(nil, s)), foldString(s); got != want {
			t.Errorf("%q: got %q want %q", s, got, want)
		}
	}
}

// TestMatchLong matches texts in windows a few bytes long (matchLong, for
// texts over longText bytes) and checks that the answers, order included,
// are those of matching each text whole: keys across the cuts, tokens
// longer than a window, punctuation right after a cut.
func TestMatchLong(t *testing.T) {
	texts := append(passTexts(t), strings.Repeat("hot dog, New York City. ", 50),
		strings.Repeat("x", 300)+" hot dog "+strings.Repeat("y", 200),
		"abc.def U.S. Army"+strings.Repeat(".", 100)+"Dr. Who", strings.Join(readCaptions(t)[:300], " "),
		strings.Repeat("x.NET New York City? hot dog,.NET!", 20), strings.Repeat("a b c d ", 40),
		strings.Repeat("New York Cityx hot dogs a b c dd .NETx ", 20)) // keys but for the last letters
	defer func(l int) { longText = l }(longText)
	// The default list, and one where every key is about the longest: a
	// window that stopped short would miss keys that end near its end.
	small := []string{".NET", "hot dog", "New York City", "a b c d", "?", "dog", "x"}
	for _, fold := range []bool{false, true} {
		d, err := Default(Options{FoldCase: fold})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range []*Matcher{d, mustMatcher(t, small, Options{FoldCase: fold})} {
			want := make([][]int32, len(texts))
			longText = 1 << 30
			for i, text := range texts {
				want[i] = m.MatchIDs(text, nil)
			}
			for _, l := range []int{1, 2, 3, 7, 16, 61, 1000} {
				longText = l
				for i, text := range texts {
					if got := m.MatchIDs(text, nil); !slices.Equal(got, want[i]) {
						t.Fatalf("fold=%v window %d, %q: got %v want %v", fold, l, text, got, want[i])
					}
				}
			}
		}
	}
}

// TestMatchLongMemory matches an 8 MB text: the working memory must stay
// near the text's own size, not the ~140 bytes a byte of one piece.
func TestMatchLongMemory(t *testing.T) {
	m, err := Default(Options{})
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Repeat(strings.Join(readCaptions(t)[:100], " ")+" ", 8<<20/5900)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	ids := m.MatchIDs(text, nil)
	runtime.ReadMemStats(&after)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4*uint64(len(text)) {
		t.Errorf("matching %d bytes allocated %d bytes", len(text), alloc)
	}
	if want := m.MatchIDs(strings.Join(readCaptions(t)[:100], " "), nil); !slices.Equal(ids, want) {
		t.Errorf("repeated text: %d ids, want those of one copy (%d)", len(ids), len(want))
	}
}

// TestMatchConcurrent matches from several goroutines at once (the filter's
// workers share one Matcher): every answer must equal the sequential one.
// Run with -race, it also checks that matching only reads the Matcher.
func TestMatchConcurrent(t *testing.T) {
	for _, fold := range []bool{false, true} {
		m, err := Default(Options{FoldCase: fold})
		if err != nil {
			t.Fatal(err)
		}
		caps := readCaptions(t)[:400]
		want := make([][]int32, len(caps))
		for i, c := range caps {
			want[i] = m.MatchIDs(c, nil)
		}
		var wg sync.WaitGroup
		errs := make(chan string, 8)
		for w := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var dst []int32
				for k := range caps {
					i := (k*7 + w*53) % len(caps)
					dst = m.MatchIDs(caps[i], dst[:0])
					if !slices.Equal(dst, want[i]) {
						errs <- fmt.Sprintf("fold=%v %q: got %v want %v", fold, caps[i], dst, want[i])
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for e := range errs {
			t.Fatal(e)
		}
	}
}

// TestMatchUnpadded places texts so that they end at every distance from
// the end of a memory page, followed by separators, punctuation or
// letters: MatchIDs matches such texts where they are, without copying,
// when the passes can read past their end on the same page, and copies
// them otherwise. Either way the answer must be that of a copy.
func TestMatchUnpadded(t *testing.T) {
	m, err := Default(Options{})
	if err != nil {
		t.Fatal(err)
	}
	texts := append(readCaptions(t)[:40], "the", "New York", "a,b.", "dog ", "U.S.", strings.Repeat("x", 70))
	mem := make([]byte, 3*4096)
	// The offset of the second page in mem.
	page := 4096 - int(uintptr(unsafe.Pointer(&mem[0]))%4096)
	direct := 0
	for _, text := range texts {
		want := m.MatchIDs(strings.Clone(text), nil)
		for _, junk := range []byte{' ', ',', '.', 'a', 0xff} {
			for gap := range textPad + 2 {
				end := page + 4096 - gap // text ends gap bytes before the page end
				for i := range mem {
					mem[i] = junk
				}
				copy(mem[end-len(text):], text)
				s := unsafe.String(&mem[end-len(text)], len(text))
				if readableAfter(mem[end-len(text):end], len(text)) {
					direct++
				}
				if got := m.MatchIDs(s, nil); !slices.Equal(got, want) {
					t.Fatalf("%q followed by %q, %d bytes before a page end: got %v want %v", text, junk, gap, got, want)
				}
			}
		}
	}
	if haveAsmPasses && direct == 0 {
		t.Fatal("no text was matched in place")
	}
}
