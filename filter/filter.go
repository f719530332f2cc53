package filter

// QueryMatcher is what the filter needs of a query list (querymatch.Matcher satisfies it).
type QueryMatcher interface {
	Len() int
	Entry(id int32) string
	MatchIDs(text string, dst []int32) []int32
}

// Stages configures the per-caption stages. A nil Matcher or Language switches that stage off.
type Stages struct {
	Text            TextRules
	Matcher         QueryMatcher
	Language        *LanguageFilter
	DropInvalidUTF8 bool // drop captions with invalid UTF-8 instead of removing the bad bytes
}

// Verdict is the outcome of the per-caption stages for one caption.
type Verdict struct {
	Caption     string  // normalised caption
	Reason      Reason  // Kept or the first failing stage
	Matches     []int32 // matched entry ids (when the query stage ran)
	Lang        LanguageResult
	LangChecked bool // the language stage ran
	Repaired    bool // invalid UTF-8 was removed
}

// Evaluate runs normalisation, text rules, query match and language, cheapest first, stopping
// at the first failure. It is safe for concurrent use; dst is reused for the match ids.
func (s *Stages) Evaluate(raw string, dst []int32) Verdict {
	var v Verdict
	v.Caption, v.Repaired = Normalize(raw)
	if v.Repaired && s.DropInvalidUTF8 {
		v.Reason = ReasonInvalidUTF8
		return v
	}
	if v.Reason = s.Text.Check(v.Caption); v.Reason != Kept {
		return v
	}
	if s.Matcher != nil {
		v.Matches = s.Matcher.MatchIDs(v.Caption, dst[:0])
		if len(v.Matches) == 0 {
			v.Reason = ReasonNoQuery
			return v
		}
	}
	if s.Language != nil {
		v.LangChecked = true
		v.Lang = s.Language.Detect(v.Caption)
		if !v.Lang.Keep {
			v.Reason = ReasonLanguage
		}
	}
	return v
}
