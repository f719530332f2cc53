package crawl

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

// ProgressLine renders a running crawl in one line: pages/s (this run), pages, pairs, errors,
// and what is left, as the summary counts it.
func ProgressLine(s Stats, runRate float64) string {
	return fmt.Sprintf("%.0f pages/s | pages %d ok %d failed | pairs %d | left %d (%d queued, %d in flight, %d delayed)",
		runRate, s.PagesOK, s.Failed(), s.Pairs, s.Left(), s.Frontier, s.InFlight, s.Delayed)
}

// NewProgress returns a Config.Progress function that shows a spinner line on w when it is a
// terminal and otherwise logs one slog line per call (about every second), and a function that
// clears the line when the crawl is over.
func NewProgress(w io.Writer, log *slog.Logger) (update func(Stats), done func()) {
	var (
		mu       sync.Mutex
		bar      *progressbar.ProgressBar
		last     time.Time
		lastDone int64 = -1
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
	update = func(s Stats) {
		mu.Lock()
		defer mu.Unlock()
		now := time.Now()
		pages := s.Pages()
		rate := 0.0
		if lastDone >= 0 && now.After(last) {
			rate = float64(pages-lastDone) / now.Sub(last).Seconds()
		}
		last, lastDone = now, pages
		if bar != nil {
			bar.Describe(ProgressLine(s, rate))
			bar.Add(0)
			return
		}
		log.Info("crawl progress", "pages_per_s", int(rate), "pages_ok", s.PagesOK, "failed", s.Failed(),
			"pairs", s.Pairs, "left", s.Left(), "frontier", s.Frontier, "in_flight", s.InFlight, "delayed", s.Delayed)
	}
	return update, done
}
