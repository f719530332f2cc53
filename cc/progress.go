package cc

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

// ProgressLine renders a running Run in one line.
func ProgressLine(p Progress) string {
	rate := 0.0
	if p.Elapsed > 0 {
		rate = float64(p.Records) / p.Elapsed.Seconds()
	}
	return fmt.Sprintf("files %d done, %d reading, %d skipped, %d failed | %d records (%.0f/s) | %d pairs | %.1f MB read",
		p.FilesDone, p.FilesActive, p.FilesSkipped, p.FilesFailed, p.Records, rate, p.Pairs, float64(p.Bytes)/1e6)
}

// NewProgress returns an Options.Progress function that shows a spinner line on w when it is a
// terminal and otherwise logs a line about every 10 s, and a function that clears the line.
func NewProgress(w io.Writer, log *slog.Logger) (update func(Progress), done func()) {
	var (
		mu   sync.Mutex
		bar  *progressbar.ProgressBar
		last time.Time
	)
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		bar = progressbar.NewOptions64(-1,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSpinnerType(14),
			progressbar.OptionThrottle(200*time.Millisecond),
			progressbar.OptionClearOnFinish(),
		)
	}
	done = func() {
		mu.Lock()
		defer mu.Unlock()
		if bar != nil {
			bar.Finish()
			fmt.Fprintln(w)
			bar = nil
		}
	}
	update = func(p Progress) {
		mu.Lock()
		defer mu.Unlock()
		if bar != nil {
			bar.Describe(ProgressLine(p))
			bar.Add(0)
			return
		}
		if time.Since(last) < 10*time.Second {
			return
		}
		last = time.Now()
		log.Info("cc progress", "files_done", p.FilesDone, "files_reading", p.FilesActive, "files_skipped", p.FilesSkipped,
			"files_failed", p.FilesFailed, "records", p.Records, "pairs", p.Pairs, "bytes", p.Bytes)
	}
	return update, done
}
