package filter

import (
	"unicode"

	"github.com/pemistahl/lingua-go"
)

// Script is a writing system, named by its ISO 15924 code.
type Script uint8

// Scripts the pre-check tells apart. ScriptOther covers every other letter.
const (
	ScriptNone Script = iota // no letters at all
	ScriptLatin
	ScriptCyrillic
	ScriptGreek
	ScriptArabic
	ScriptHebrew
	ScriptHan
	ScriptKana // Hiragana and Katakana: Japanese
	ScriptHangul
	ScriptThai
	ScriptDevanagari
	ScriptBengali
	ScriptTamil
	ScriptTelugu
	ScriptGujarati
	ScriptGurmukhi
	ScriptGeorgian
	ScriptArmenian
	ScriptOther
	numScripts
)

var scriptCodes = [numScripts]string{"Zyyy", "Latn", "Cyrl", "Grek", "Arab", "Hebr", "Hani", "Kana",
	"Hang", "Thai", "Deva", "Beng", "Taml", "Telu", "Gujr", "Guru", "Geor", "Armn", "Zzzz"}

// String returns the ISO 15924 code.
func (s Script) String() string { return scriptCodes[s] }

var scriptTables = []struct {
	script Script
	table  *unicode.RangeTable
}{
	{ScriptLatin, unicode.Latin}, {ScriptCyrillic, unicode.Cyrillic}, {ScriptGreek, unicode.Greek},
	{ScriptArabic, unicode.Arabic}, {ScriptHebrew, unicode.Hebrew}, {ScriptHan, unicode.Han},
	{ScriptKana, unicode.Hiragana}, {ScriptKana, unicode.Katakana}, {ScriptHangul, unicode.Hangul},
	{ScriptThai, unicode.Thai}, {ScriptDevanagari, unicode.Devanagari},
	{ScriptBengali, unicode.Bengali}, {ScriptTamil, unicode.Tamil}, {ScriptTelugu, unicode.Telugu},
	{ScriptGujarati, unicode.Gujarati}, {ScriptGurmukhi, unicode.Gurmukhi},
	{ScriptGeorgian, unicode.Georgian}, {ScriptArmenian, unicode.Armenian},
}

func scriptOf(r rune) Script {
	if r < 0x80 {
		if (r|0x20) >= 'a' && (r|0x20) <= 'z' {
			return ScriptLatin
		}
		return ScriptNone
	}
	if !unicode.IsLetter(r) {
		return ScriptNone
	}
	for _, t := range scriptTables {
		if unicode.Is(t.table, r) {
			return t.script
		}
	}
	return ScriptOther
}

// ScriptProfile counts the letters of a text per script.
type ScriptProfile struct {
	Letters int
	Counts  [numScripts]int
}

// ProfileScripts counts letters per script. ASCII text, the common case, costs one pass
// without table look-ups.
func ProfileScripts(s string) ScriptProfile {
	var p ScriptProfile
	for _, r := range s {
		sc := scriptOf(r)
		if sc == ScriptNone {
			continue
		}
		p.Letters++
		p.Counts[sc]++
	}
	return p
}

// Dominant returns the script with the most letters (ScriptNone for no letters). Japanese text
// mixes Han and kana: any kana makes it ScriptKana, so it is not mistaken for Chinese.
func (p ScriptProfile) Dominant() Script {
	if p.Letters == 0 {
		return ScriptNone
	}
	best := ScriptNone
	for sc := ScriptLatin; sc < numScripts; sc++ {
		if p.Counts[sc] > p.Counts[best] {
			best = sc
		}
	}
	if best == ScriptHan && p.Counts[ScriptKana] > 0 {
		return ScriptKana
	}
	return best
}

// languageScripts lists the scripts a lingua language is written in. A language missing here is
// treated as written in any script, so the pre-check never rejects text that lingua could keep.
func languageScripts(l lingua.Language) []Script {
	switch l {
	case lingua.Afrikaans, lingua.Albanian, lingua.Azerbaijani, lingua.Basque, lingua.Bokmal,
		lingua.Bosnian, lingua.Catalan, lingua.Croatian, lingua.Czech, lingua.Danish, lingua.Dutch,
		lingua.English, lingua.Esperanto, lingua.Estonian, lingua.Finnish, lingua.French, lingua.Ganda,
		lingua.German, lingua.Hungarian, lingua.Icelandic, lingua.Indonesian, lingua.Irish,
		lingua.Italian, lingua.Latin, lingua.Latvian, lingua.Lithuanian, lingua.Malay, lingua.Maori,
		lingua.Nynorsk, lingua.Polish, lingua.Portuguese, lingua.Romanian, lingua.Shona, lingua.Slovak,
		lingua.Slovene, lingua.Somali, lingua.Sotho, lingua.Spanish, lingua.Swahili, lingua.Swedish,
		lingua.Tagalog, lingua.Tsonga, lingua.Tswana, lingua.Turkish, lingua.Vietnamese, lingua.Welsh,
		lingua.Xhosa, lingua.Yoruba, lingua.Zulu:
		return []Script{ScriptLatin}
	case lingua.Belarusian, lingua.Bulgarian, lingua.Kazakh, lingua.Macedonian, lingua.Mongolian,
		lingua.Russian, lingua.Serbian, lingua.Ukrainian:
		return []Script{ScriptCyrillic}
	case lingua.Arabic, lingua.Persian, lingua.Urdu:
		return []Script{ScriptArabic}
	case lingua.Greek:
		return []Script{ScriptGreek}
	case lingua.Hebrew:
		return []Script{ScriptHebrew}
	case lingua.Chinese:
		return []Script{ScriptHan}
	case lingua.Japanese:
		return []Script{ScriptHan, ScriptKana}
	case lingua.Korean:
		return []Script{ScriptHangul, ScriptHan}
	case lingua.Thai:
		return []Script{ScriptThai}
	case lingua.Hindi, lingua.Marathi:
		return []Script{ScriptDevanagari}
	case lingua.Bengali:
		return []Script{ScriptBengali}
	case lingua.Tamil:
		return []Script{ScriptTamil}
	case lingua.Telugu:
		return []Script{ScriptTelugu}
	case lingua.Gujarati:
		return []Script{ScriptGujarati}
	case lingua.Punjabi:
		return []Script{ScriptGurmukhi}
	case lingua.Georgian:
		return []Script{ScriptGeorgian}
	case lingua.Armenian:
		return []Script{ScriptArmenian}
	}
	return nil
}
