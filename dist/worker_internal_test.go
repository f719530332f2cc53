package dist

import (
	"bytes"
	"log/slog"
	"regexp"
	"testing"
)

// TestTaskLogger: a task's logger writes what slog.Logger.With would have, whatever the kind
// does with it.
func TestTaskLogger(t *testing.T) {
	cases := []struct {
		name string
		use  func(l *slog.Logger)
	}{
		{"record", func(l *slog.Logger) { l.Info("hello", "n", 1) }},
		{"below the level", func(l *slog.Logger) { l.Debug("hidden") }},
		{"with attrs", func(l *slog.Logger) { l.With("stage", "fetch").Warn("slow", "url", "http://x") }},
		{"with group", func(l *slog.Logger) { l.WithGroup("g").Info("in group", "a", 2) }},
	}
	time := regexp.MustCompile(`time=\S+ `)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var want, got bytes.Buffer
			c.use(slog.New(slog.NewTextHandler(&want, nil)).With("job", "j1", "task", "t1"))
			c.use(taskLogger(slog.New(slog.NewTextHandler(&got, nil)), "j1", "t1"))
			if w, g := time.ReplaceAllString(want.String(), ""), time.ReplaceAllString(got.String(), ""); w != g {
				t.Errorf("got  %q\nwant %q", g, w)
			}
		})
	}
}
