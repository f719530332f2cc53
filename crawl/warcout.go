package crawl

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/witdata/wit/internal/httpx"
	"github.com/witdata/wit/warc"
)

// openArchive starts the WARC archive of Config.WARCOut: WARC/1.1 files, gzip per record,
// rotated at WARCFileBytes; files a killed run left unfinished are recovered first.
func openArchive(cfg Config, log *slog.Logger) (*warc.Archive, error) {
	out, err := warc.NewDirOutput(cfg.WARCOut, log)
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
