// Package stageset holds the filter stages' options in a form that can be stored and sent
// (YAML), and builds filter.Stages from them: `wit filter` builds its stages here from its
// flags, and a distributed filter's workers build the same stages from the job's spec.
package stageset

import (
	"fmt"
	"log/slog"

	"github.com/witdata/wit/filter"
	"github.com/witdata/wit/querymatch"
)

// Settings are the options of the per-caption stages.
type Settings struct {
	Queries         string           `yaml:"queries"` // query list file, "default", or "" for no query filter
	FoldCase        bool             `yaml:"fold_case"`
	NoLanguage      bool             `yaml:"no_language"`
	Languages       string           `yaml:"languages"`        // kept languages (ISO 639-1 codes or names, comma-separated)
	DetectLanguages string           `yaml:"detect_languages"` // lingua's candidates ("" = 20 common web languages)
	LowAccuracy     bool             `yaml:"low_accuracy"`
	NoLexical       bool             `yaml:"no_lexical"`
	CacheSize       int              `yaml:"lang_cache"`
	Text            filter.TextRules `yaml:"text"`
	DropInvalidUTF8 bool             `yaml:"drop_invalid_utf8"`
}

// Default returns `wit filter`'s defaults.
func Default() Settings {
	return Settings{Languages: "en", CacheSize: 100_000, Text: filter.DefaultTextRules()}
}

// Build makes the stages: the query matcher (loaded from Queries) and the language filter
// (models loaded, which takes seconds).
func (s Settings) Build(log *slog.Logger) (filter.Stages, error) {
	if log == nil {
		log = slog.Default()
	}
	st := filter.Stages{Text: s.Text, DropInvalidUTF8: s.DropInvalidUTF8}
	mopts := querymatch.Options{FoldCase: s.FoldCase}
	switch s.Queries {
	case "":
	case "default":
		m, err := querymatch.Default(mopts)
		if err != nil {
			return st, fmt.Errorf("default query list: %w", err)
		}
		st.Matcher = m
	default:
		m, err := querymatch.LoadFile(s.Queries, mopts)
		if err != nil {
			return st, fmt.Errorf("--queries: %w", err)
		}
		st.Matcher = m
	}
	if !s.NoLanguage {
		keep, err := filter.ParseLanguages(s.Languages)
		if err != nil {
			return st, fmt.Errorf("--languages: %w", err)
		}
		lopts := filter.LanguageOptions{Keep: keep, CacheSize: s.CacheSize, LowAccuracy: s.LowAccuracy, NoLexical: s.NoLexical}
		if s.DetectLanguages != "" {
			if lopts.Detect, err = filter.ParseLanguages(s.DetectLanguages); err != nil {
				return st, fmt.Errorf("--detect-languages: %w", err)
			}
		}
		log.Info("loading language models", "keep", s.Languages, "candidates", len(lopts.Detect))
		lf, err := filter.NewLanguageFilter(lopts)
		if err != nil {
			return st, err
		}
		st.Language = lf
	}
	return st, nil
}
