package eval

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
)

// Placeholder marks where a class name goes in a prompt template (Python's str.format style, as in
// OpenAI's template lists).
const Placeholder = "{}"

// EmojiTemplates is the default prompt set: short prompts for pictograms, close to the caption
// styles wit's emoji experiment trains on (bare names and "an emoji of …").
var EmojiTemplates = []string{
	"{}",
	"an emoji of {}.",
	"a {} emoji.",
	"an icon of {}.",
	"a drawing of {}.",
	"a cartoon of {}.",
}

// PhotoTemplates is the subset of seven ImageNet templates that OpenAI's zero-shot notebook selected
// as the best ensemble from its 80.
var PhotoTemplates = []string{
	"itap of a {}.",
	"a bad photo of the {}.",
	"a origami {}.",
	"a photo of the large {}.",
	"a {} in a video game.",
	"art of the {}.",
	"a photo of the small {}.",
}

// PlainTemplates uses the class name alone.
var PlainTemplates = []string{"{}"}

// NamedTemplates are the sets --templates accepts by name.
var NamedTemplates = map[string][]string{
	"emoji": EmojiTemplates,
	"photo": PhotoTemplates,
	"plain": PlainTemplates,
}

// Prompt fills template with class.
func Prompt(template, class string) string { return strings.ReplaceAll(template, Placeholder, class) }

// Prompts returns every template filled with every class, class-major (the layout ClassWeights
// expects).
func Prompts(classes, templates []string) []string {
	out := make([]string, 0, len(classes)*len(templates))
	for _, c := range classes {
		for _, t := range templates {
			out = append(out, Prompt(t, c))
		}
	}
	return out
}

// ResolveTemplates returns the named set ("emoji", "photo", "plain"), or else reads the file
// spec names.
func ResolveTemplates(spec string) ([]string, error) {
	if t, ok := NamedTemplates[spec]; ok {
		return t, nil
	}
	return LoadTemplates(spec)
}

// LoadTemplates reads one template a line; blank lines and lines starting with # are skipped.
// Every template must contain {} once or more.
func LoadTemplates(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("templates: %w", err)
	}
	defer f.Close()
	return ParseTemplates(f, path)
}

// ParseTemplates is LoadTemplates on a reader; name labels errors.
func ParseTemplates(r io.Reader, path string) ([]string, error) {
	var out []string
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if !strings.Contains(line, Placeholder) {
			return nil, fmt.Errorf("templates %s:%d: %q has no %s for the class name", path, n, line, Placeholder)
		}
		out = append(out, line)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("templates %s: %w", path, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("templates %s: no templates", path)
	}
	return out, nil
}

// Class is one zero-shot class: Label is how the data names it (a folder name, a label-column
// value), Name is what goes into the prompts.
type Class struct {
	Label string `json:"label"`
	Name  string `json:"name"`
}

// LoadClasses reads a class list: one class a line, either "label" (also used as the prompt name)
// or "label<TAB>prompt name" (e.g. "food-drink<TAB>food and drink"). Blank lines and # comments are
// skipped; duplicate labels are an error.
func LoadClasses(path string) ([]Class, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("classes: %w", err)
	}
	defer f.Close()
	return ParseClasses(f, path)
}

// ParseClasses is LoadClasses on a reader; name labels errors.
func ParseClasses(r io.Reader, path string) ([]Class, error) {
	var out []Class
	seen := map[string]int{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		label, name, _ := strings.Cut(line, "\t")
		label, name = strings.TrimSpace(label), strings.TrimSpace(name)
		if label == "" {
			return nil, fmt.Errorf("classes %s:%d: empty label", path, n)
		}
		if name == "" {
			name = label
		}
		if prev, dup := seen[label]; dup {
			return nil, fmt.Errorf("classes %s:%d: %q already on line %d", path, n, label, prev)
		}
		seen[label] = n
		out = append(out, Class{Label: label, Name: name})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("classes %s: %w", path, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("classes %s: no classes", path)
	}
	return out, nil
}
