package crawl

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"path/filepath"

	"github.com/witdata/wit/internal/httpx"
	"github.com/witdata/wit/warc"
)

// openArchive starts the WARC archive of Config.WARCOut (a directory or an object-store URL):
// WARC/1.1 files, gzip per record, rotated at WARCFileBytes; files a killed run left unfinished
// are recovered first. Files bound for object storage are staged in the state directory, which
// is local and kept, so that one a killed run left there is uploaded by the next.
func openArchive(ctx context.Context, cfg Config, log *slog.Logger) (*warc.Archive, error) {
	out, err := warc.NewOutput(ctx, cfg.WARCOut, warcStagingDir(cfg.State), log)
	if err != nil {
		return nil, err
	}
	robots := "obey"
	if cfg.IgnoreRobots {
		robots = "ignore"
	}
	return warc.NewArchive(out, warc.ArchiveOptions{
		Prefix:       "wit-crawl",
		MaxFileBytes: cfg.WARCFileBytes,
		Info: []warc.Field{
			{Name: "http-header-user-agent", Value: cfg.UserAgent},
			{Name: "robots", Value: robots},
		},
	}), nil
}

// warcStagingDir is where WARC files bound for object storage are written before their upload.
func warcStagingDir(state string) string { return filepath.Join(state, "warc-staging") }

// archivingClient is c with every exchange (robots.txt too, and each redirect hop) recorded
// in a: the request as sent, the response as received up to the body cap.
func archivingClient(c *http.Client, a *warc.Archive, maxBody int64, log *slog.Logger) *http.Client {
	return &http.Client{
		Transport: &warc.Recorder{
			Base:     c.Transport,
			Archive:  a,
			MaxBody:  maxBody + 1, // colly reads one byte more than allowed to tell "too large"
			TooLarge: func(err error) bool { return errors.Is(err, httpx.ErrBodyTooLarge) },
			OnError:  func(err error) { log.Error("crawl: writing the WARC archive failed", "err", err) },
		},
		CheckRedirect: c.CheckRedirect,
		Jar:           c.Jar,
		Timeout:       c.Timeout,
	}
}
