package cc

import (
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/witdata/wit/internal/progress"
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
	line := progress.New(w, log, "cc progress", 10*time.Second)
	update = func(p Progress) {
		line.Update(func() (string, []any) {
			return ProgressLine(p), []any{"files_done", p.FilesDone, "files_reading", p.FilesActive, "files_skipped", p.FilesSkipped,
				"files_failed", p.FilesFailed, "records", p.Records, "pairs", p.Pairs, "bytes", p.Bytes}
		})
	}
	return update, line.Done
}
