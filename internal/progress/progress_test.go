package progress

import (
	"log/slog"
	"strings"
	"testing"
	"time"
)

// Off a terminal, Update logs at most once per interval and every time with interval 0; render
// runs on every call either way.
func TestLogInterval(t *testing.T) {
	for _, tc := range []struct {
		interval time.Duration
		wantLogs int
	}{
		{0, 3},
		{time.Hour, 1},
	} {
		var buf strings.Builder
		l := New(&buf, slog.New(slog.NewTextHandler(&buf, nil)), "stage progress", tc.interval)
		renders := 0
		for i := range 3 {
			l.Update(func() (string, []any) {
				renders++
				return "line", []any{"n", i}
			})
		}
		l.Done()
		if got := strings.Count(buf.String(), "stage progress"); got != tc.wantLogs {
			t.Errorf("interval %v: %d log lines, want %d:\n%s", tc.interval, got, tc.wantLogs, buf.String())
		}
		if renders != 3 {
			t.Errorf("interval %v: render ran %d times, want 3", tc.interval, renders)
		}
		if strings.Contains(buf.String(), "line") {
			t.Errorf("terminal line written to a log: %s", buf.String())
		}
		if !strings.Contains(buf.String(), "n=0") {
			t.Errorf("first update's attributes not logged: %s", buf.String())
		}
	}
}
