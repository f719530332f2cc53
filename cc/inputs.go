package cc

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/witdata/wit/internal/httpx"
	"github.com/witdata/wit/internal/storage"
)

// DefaultBase is where Common Crawl serves the files named in its *.paths lists.
const DefaultBase = "https://data.commoncrawl.org/"

// Input is one file to read and its position in the expanded input list, which names its output
// file (NNNNN.arrow) and its done marker, so it must be the same when a run is resumed.
type Input struct {
	Name  string // local path, http(s) URL or object-store URL (s3://bucket/key?...)
	Index int
}

// Opener opens an input by name. NewOpener's opens local files, http(s) URLs and object-store
// URLs.
type Opener func(ctx context.Context, name string) (io.ReadCloser, error)

// IsURL reports whether name is an http(s) URL.
func IsURL(name string) bool {
	return strings.HasPrefix(name, "http://") || strings.HasPrefix(name, "https://")
}

// NewOpener returns an Opener for local paths (file:// allowed), http(s) URLs and object-store
// URLs. http(s) URLs are fetched with internal/httpx: the SSRF guard (loopback and private
// addresses refused unless allowPrivate), retries with backoff on 429/5xx and timeouts; timeout
// bounds one whole download. Object-store URLs (s3://bucket/key?region=...) are read through
// internal/storage, in sequential range requests of storage.ReadAhead bytes; the store's
// endpoint is the operator's choice, so the SSRF guard does not apply to it.
func NewOpener(allowPrivate bool, workers int, timeout time.Duration) Opener {
	o := httpx.DefaultOptions()
	o.UserAgent = "wit-cc/0.1 (+https://github.com/witdata/wit)"
	o.Timeout = timeout
	o.MaxBodyBytes = 1 << 50 // archive files are large; they are streamed, never held
	o.PerHost = max(workers, 1) + 1
	o.Delay = 0
	o.AllowPrivate = allowPrivate
	client := httpx.NewClient(o)
	return func(ctx context.Context, name string) (io.ReadCloser, error) {
		if !IsURL(name) && storage.IsRemote(name) {
			r, err := storage.OpenFile(ctx, name)
			if err != nil {
				return nil, fmt.Errorf("open %s: %w", name, err)
			}
			return r, nil
		}
		if !IsURL(name) {
			f, err := os.Open(strings.TrimPrefix(name, "file://"))
			if err != nil {
				return nil, fmt.Errorf("open %s: %w", name, err)
			}
			return f, nil
		}
		resp, err := client.Get(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("get %s: %w", name, err)
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			return nil, fmt.Errorf("get %s: %s", name, resp.Status)
		}
		return resp.Body, nil
	}
}

// isPathsList reports a Common Crawl file list (warc.paths.gz, wat.paths.gz, ...).
func isPathsList(name string) bool {
	if IsURL(name) || storage.IsRemote(name) {
		name, _, _ = strings.Cut(name, "?") // an s3:// URL's parameters, a signed URL's query
	}
	n := strings.ToLower(name)
	return strings.HasSuffix(n, ".paths") || strings.HasSuffix(n, ".paths.gz")
}

// isArchiveFile reports the file names a directory input is expanded to.
func isArchiveFile(name string) bool {
	n := strings.ToLower(name)
	if strings.Contains(n, ".tmp-") {
		return false
	}
	for _, ext := range []string{".warc", ".warc.gz", ".wat", ".wat.gz"} {
		if strings.HasSuffix(n, ext) {
			return true
		}
	}
	return false
}

// Inputs expands the --in values in order: a directory — local, or a folder of an object store
// (s3://bucket/prefix/) — into its .warc(.gz) and .wat(.gz) files (recursively, in lexical
// order), a *.paths or *.paths.gz list (local or a URL) into its entries resolved against base
// (an http(s) or object-store URL, or a local directory), anything else as it is. Inputs are
// numbered from 0 in that order.
func Inputs(ctx context.Context, in []string, base string, open Opener) iter.Seq2[Input, error] {
	if base == "" {
		base = DefaultBase
	}
	return func(yield func(Input, error) bool) {
		idx := 0
		emit := func(name string) bool {
			ok := yield(Input{Name: name, Index: idx}, nil)
			idx++
			return ok
		}
		for _, name := range in {
			if ctx.Err() != nil {
				yield(Input{}, ctx.Err())
				return
			}
			switch {
			case isPathsList(name):
				for entry, err := range pathsList(ctx, name, base, open) {
					if err != nil {
						yield(Input{}, err)
						return
					}
					if !emit(entry) {
						return
					}
				}
			case !IsURL(name) && isDir(ctx, name):
				files, err := archiveFiles(ctx, name)
				if err != nil {
					yield(Input{}, fmt.Errorf("cc: list %s: %w", name, err))
					return
				}
				for _, f := range files {
					if !emit(f) {
						return
					}
				}
			default:
				if !emit(name) {
					return
				}
			}
		}
	}
}

// isDir reports a local directory or a folder of an object store (a prefix with names under
// it). A name that cannot be looked up is taken as a file, whose open then fails as an input.
func isDir(ctx context.Context, name string) bool {
	if storage.IsRemote(name) {
		st, err := storage.Stat(ctx, name)
		return err == nil && st.IsDir
	}
	st, err := os.Stat(name)
	return err == nil && st.IsDir()
}

// archiveFiles lists the archive files under the directory dir, recursively, in lexical order.
func archiveFiles(ctx context.Context, dir string) ([]string, error) {
	var files []string
	if !storage.IsRemote(dir) {
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && isArchiveFile(d.Name()) {
				files = append(files, p)
			}
			return nil
		})
		return files, err
	}
	var walk func(loc string) error
	walk = func(loc string) error {
		d, err := storage.Open(ctx, loc)
		if err != nil {
			return err
		}
		entries, err := d.List(ctx, "")
		if err != nil {
			return err
		}
		for _, e := range entries { // sorted by name, folders among files as WalkDir walks them
			switch {
			case e.IsDir:
				if err := walk(storage.Join(loc, e.Name)); err != nil {
					return err
				}
			case isArchiveFile(e.Name):
				files = append(files, storage.Join(loc, e.Name))
			}
		}
		return nil
	}
	return files, walk(dir)
}

// pathsList reads a file list and resolves its relative entries against base.
func pathsList(ctx context.Context, name, base string, open Opener) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		rc, err := open(ctx, name)
		if err != nil {
			yield("", fmt.Errorf("cc: paths list: %w", err))
			return
		}
		defer rc.Close()
		br := bufio.NewReader(rc)
		var r io.Reader = br
		if magic, _ := br.Peek(2); bytes.Equal(magic, []byte{0x1f, 0x8b}) {
			zr, err := gzip.NewReader(br)
			if err != nil {
				yield("", fmt.Errorf("cc: paths list %s: %w", name, err))
				return
			}
			r = zr
		}
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			if !yield(resolveEntry(base, line), nil) {
				return
			}
		}
		if err := sc.Err(); err != nil {
			yield("", fmt.Errorf("cc: paths list %s: %w", name, err))
		}
	}
}

func resolveEntry(base, entry string) string {
	if IsURL(entry) || storage.IsRemote(entry) || filepath.IsAbs(entry) {
		return entry
	}
	if !IsURL(base) && storage.IsRemote(base) {
		return storage.Join(base, entry)
	}
	if IsURL(base) {
		u, err := url.Parse(base)
		if err == nil {
			u.Path = path.Join("/", u.Path, entry)
			return u.String()
		}
	}
	return filepath.Join(strings.TrimPrefix(base, "file://"), filepath.FromSlash(entry))
}
