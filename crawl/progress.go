package crawl

import (
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/witdata/wit/internal/progress"
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
		line     = progress.New(w, log, "crawl progress", 0)
		last     time.Time
		lastDone int64 = -1
	)
	update = func(s Stats) {
		line.Update(func() (string, []any) {
			now := time.Now()
			pages := s.Pages()
			rate := 0.0
			if lastDone >= 0 && now.After(last) {
				rate = float64(pages-lastDone) / now.Sub(last).Seconds()
			}
			last, lastDone = now, pages
			return ProgressLine(s, rate), []any{"pages_per_s", int(rate), "pages_ok", s.PagesOK, "failed", s.Failed(),
				"pairs", s.Pairs, "left", s.Left(), "frontier", s.Frontier, "in_flight", s.InFlight, "delayed", s.Delayed}
		})
	}
	return update, line.Done
}
