package filter

import (
	"fmt"
	"log/slog"

	"github.com/witdata/wit/querymatch"
)

// StageOptions are the per-caption stages' settings in the form flags and YAML files hold them
// (the keys of configs/filter.yaml, and of the filter section of configs/build.yaml). Stages
// turns them into Stages; `wit filter` and `wit build` both go through it.
type StageOptions struct {
	Queries         string `yaml:"queries"`           // query list file (.gz ok), "default" (the embedded list) or "" (no query stage)
	FoldCase        bool   `yaml:"fold_case"`         // match the query list case-insensitively
	NoLanguage      bool   `yaml:"no_language"`       // no language stage
	Languages       string `yaml:"languages"`         // languages kept: ISO 639-1 codes or names, comma-separated
	DetectLanguages string `yaml:"detect_languages"`  // lingua's candidates ("" = DefaultDetectLanguages, "all")
	LowAccuracy     bool   `yaml:"low_accuracy"`      // lingua's low accuracy mode
	NoLexical       bool   `yaml:"no_lexical"`        // English alone: skip the function-word pre-check
	LangCache       int    `yaml:"lang_cache"`        // LRU entries of language results (-1 = off)
	MinChars        int    `yaml:"min_chars"`         // TextRules.MinChars
	MinWords        int    `yaml:"min_words"`         // TextRules.MinWords
	MaxChars        int    `yaml:"max_chars"`         // TextRules.MaxChars
	NoJunk          bool   `yaml:"no_junk"`           // TextRules.NoJunk
	DropInvalidUTF8 bool   `yaml:"drop_invalid_utf8"` // Stages.DropInvalidUTF8
}

// DefaultStageOptions are `wit filter`'s defaults: no query list, English kept, the LAION/DataComp
// text rules, a 100,000-entry language cache.
func DefaultStageOptions() StageOptions {
	r := DefaultTextRules()
	return StageOptions{Languages: "en", LangCache: 100_000, MinChars: r.MinChars, MinWords: r.MinWords, MaxChars: r.MaxChars}
}

// Stages builds the stages: it loads the query list and lingua's models (log, nil for
// slog.Default(), hears about the slow part). Errors name the option at fault by its YAML key.
func (o StageOptions) Stages(log *slog.Logger) (Stages, error) {
	if log == nil {
		log = slog.Default()
	}
	st := Stages{
		Text:            TextRules{MinChars: o.MinChars, MinWords: o.MinWords, MaxChars: o.MaxChars, NoJunk: o.NoJunk},
		DropInvalidUTF8: o.DropInvalidUTF8,
	}
	mopts := querymatch.Options{FoldCase: o.FoldCase}
	switch o.Queries {
	case "":
	case "default":
		m, err := querymatch.Default(mopts)
		if err != nil {
			return st, fmt.Errorf("queries: default list: %w", err)
		}
		st.Matcher = m
	default:
		m, err := querymatch.LoadFile(o.Queries, mopts)
		if err != nil {
			return st, fmt.Errorf("queries: %w", err)
		}
		st.Matcher = m
	}
	if o.NoLanguage {
		return st, nil
	}
	lopts, err := o.LanguageOptions()
	if err != nil {
		return st, err
	}
	log.Info("filter: loading language models", "keep", o.Languages, "candidates", len(lopts.Detect))
	if st.Language, err = NewLanguageFilter(lopts); err != nil {
		return st, err
	}
	return st, nil
}

// LanguageOptions is the language stage's part of the options.
func (o StageOptions) LanguageOptions() (LanguageOptions, error) {
	keep, err := ParseLanguages(o.Languages)
	if err != nil {
		return LanguageOptions{}, fmt.Errorf("languages: %w", err)
	}
	lopts := LanguageOptions{Keep: keep, CacheSize: o.LangCache, LowAccuracy: o.LowAccuracy, NoLexical: o.NoLexical}
	if o.DetectLanguages != "" {
		if lopts.Detect, err = ParseLanguages(o.DetectLanguages); err != nil {
			return LanguageOptions{}, fmt.Errorf("detect_languages: %w", err)
		}
	}
	return lopts, nil
}
