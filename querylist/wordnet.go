package querylist

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// WordNet modes.
const (
	// WordNetLemmas takes every lemma of every synset (148,730 distinct
	// strings in WordNet 3.0), case kept.
	WordNetLemmas = "lemmas"
	// WordNetSynsets takes one name per synset, the lower-cased head lemma
	// as in NLTK's synset names ("dog.n.01" → "dog"): 86,571 distinct
	// strings in WordNet 3.0, which is what MetaCLIP's 86,654 "WordNet
	// synsets" corresponds to.
	WordNetSynsets = "synsets"
)

// wordNetFiles in NLTK's all_synsets() order (adjective, adverb, noun, verb).
var wordNetFiles = []string{"data.adj", "data.adv", "data.noun", "data.verb"}

// ReadWordNet returns WordNet's lemmas from the database files data.adj,
// data.adv, data.noun and data.verb in dir (WordNet 3.0 "wndb" format, e.g.
// Debian's wordnet-base in /usr/share/wordnet), underscores turned into
// spaces, adjective markers like "(p)" removed, deduplicated in file order.
// mode is WordNetLemmas (default when "") or WordNetSynsets.
func ReadWordNet(dir, mode string) ([]string, error) {
	if mode == "" {
		mode = WordNetLemmas
	}
	if mode != WordNetLemmas && mode != WordNetSynsets {
		return nil, fmt.Errorf("wordnet: unknown mode %q (want %q or %q)", mode, WordNetLemmas, WordNetSynsets)
	}
	seen := make(map[string]bool)
	var out []string
	found := 0
	for _, name := range wordNetFiles {
		path := filepath.Join(dir, name)
		f, err := os.Open(path)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("wordnet: %w", err)
		}
		found++
		err = parseWordNetData(f, mode, func(lemma string) {
			if !seen[lemma] {
				seen[lemma] = true
				out = append(out, lemma)
			}
		})
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("wordnet %s: %w", path, err)
		}
	}
	if found == 0 {
		return nil, fmt.Errorf("wordnet: none of %s in %s", strings.Join(wordNetFiles, ", "), dir)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("wordnet: no synsets in %s", dir)
	}
	return out, nil
}

// parseWordNetData reads one data.* file: licence lines start with a space;
// a synset line is "offset lex_filenum ss_type w_cnt word lex_id [word
// lex_id...] p_cnt ... | gloss" with w_cnt two hex digits.
func parseWordNetData(r io.Reader, mode string, add func(string)) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	line := 0
	synsets := 0
	for sc.Scan() {
		line++
		l := sc.Text()
		if l == "" || l[0] == ' ' {
			continue
		}
		fields := strings.Fields(l)
		if len(fields) < 6 {
			return fmt.Errorf("line %d: too few fields", line)
		}
		if _, err := strconv.ParseUint(fields[0], 10, 64); err != nil || len(fields[0]) != 8 {
			return fmt.Errorf("line %d: bad synset offset %q", line, fields[0])
		}
		if !strings.Contains("nvasr", fields[2]) || len(fields[2]) != 1 {
			return fmt.Errorf("line %d: bad synset type %q", line, fields[2])
		}
		n, err := strconv.ParseUint(fields[3], 16, 8)
		if err != nil || n == 0 {
			return fmt.Errorf("line %d: bad word count %q", line, fields[3])
		}
		if len(fields) < 4+2*int(n) {
			return fmt.Errorf("line %d: %d words announced, line too short", line, n)
		}
		synsets++
		for w := 0; w < int(n); w++ {
			lemma := cleanLemma(fields[4+2*w])
			if lemma == "" {
				return fmt.Errorf("line %d: empty lemma", line)
			}
			if mode == WordNetSynsets {
				add(strings.ToLower(lemma))
				break
			}
			add(lemma)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("line %d: %w", line+1, err)
	}
	if synsets == 0 {
		return errors.New("no synset lines")
	}
	return nil
}

// cleanLemma turns "on_hand(p)" into "on hand".
func cleanLemma(w string) string {
	if i := strings.IndexByte(w, '('); i > 0 && strings.HasSuffix(w, ")") {
		switch w[i:] {
		case "(a)", "(p)", "(ip)":
			w = w[:i]
		}
	}
	return strings.ReplaceAll(w, "_", " ")
}
