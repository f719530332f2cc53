// Package progress shows a running stage's progress line, the same way for every stage: on a
// terminal a spinner line rewritten in place, otherwise (a log file, a pipe) slog lines, so that
// a long run in the background still says how far it got.
//
// A stage renders its own counters into the line and the log attributes; this package decides
// where they go and how often.
package progress

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// Line is one stage's progress display. Its methods may be called from any goroutine.
type Line struct {
	mu       sync.Mutex
	w        io.Writer
	bar      *progressbar.ProgressBar // nil when w is not a terminal
	log      *slog.Logger
	msg      string
	interval time.Duration
	lastLog  time.Time
}

// New returns a Line on w. When w is a terminal the line is a spinner; otherwise each Update
// logs msg through log, at most once per interval (0: every Update).
func New(w io.Writer, log *slog.Logger, msg string, interval time.Duration) *Line {
	l := &Line{w: w, log: log, msg: msg, interval: interval}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		l.bar = progressbar.NewOptions64(-1,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSpinnerType(14),
			progressbar.OptionThrottle(200*time.Millisecond),
			progressbar.OptionClearOnFinish(),
		)
	}
	return l
}

// Update shows the stage's state. render runs under the Line's lock on every call (so it may keep
// state between calls, such as the previous count for a rate) and returns the terminal line and
// the log attributes; only one of them is used.
func (l *Line) Update(render func() (line string, attrs []any)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	line, attrs := render()
	if l.bar != nil {
		l.bar.Describe(line)
		l.bar.Add(0)
		return
	}
	if l.interval > 0 && time.Since(l.lastLog) < l.interval {
		return
	}
	l.lastLog = time.Now()
	l.log.Info(l.msg, attrs...)
}

// Done clears the terminal line when the stage is over; it does nothing on a log.
func (l *Line) Done() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.bar != nil {
		l.bar.Finish()
		fmt.Fprintln(l.w)
		l.bar = nil
	}
}
