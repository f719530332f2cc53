package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"slices"
	"strings"
	"sync"

	"gocloud.dev/blob"
	"gocloud.dev/blob/s3blob"
	"gocloud.dev/gcerrors"
)

func init() { remoteSchemes["s3"] = openBucketDir(openS3) }

// openS3 opens a bucket with s3blob's URL parameters. Checksums are computed and validated only
// where S3 requires them unless the URL says otherwise: the SDK's newer defaults (trailing
// checksums, validation of every GET) are not understood by every S3-compatible store, and the
// SDK logs each response that carries none.
func openS3(ctx context.Context, u *url.URL) (*blob.Bucket, error) {
	q := u.Query()
	for _, k := range []string{"request_checksum_calculation", "response_checksum_validation"} {
		if !q.Has(k) {
			q.Set(k, "when_required")
		}
	}
	v := *u
	v.RawQuery = q.Encode()
	return (&s3blob.URLOpener{}).OpenBucketURL(ctx, &v)
}

// PartSize is the size of the parts of a multipart upload, and so the memory a remote Writer
// buffers (the SDK uploads up to 5 parts at once).
const PartSize = 8 << 20

var (
	bucketsMu sync.Mutex
	buckets   = map[string]*blob.Bucket{} // by scheme, bucket and query: one client each
)

// openBucketDir returns a Dir opener for a URL scheme whose buckets open is given. Buckets are
// opened once per process (a client each) and shared by every Dir in them.
func openBucketDir(open func(context.Context, *url.URL) (*blob.Bucket, error)) func(context.Context, string) (Dir, error) {
	return func(ctx context.Context, loc string) (Dir, error) {
		u, err := url.Parse(loc)
		if err != nil {
			return nil, fmt.Errorf("storage: %w", err)
		}
		if u.Host == "" {
			return nil, fmt.Errorf("storage: %s: no bucket name", redact(loc))
		}
		prefix := strings.Trim(u.Path, "/")
		if prefix != "" {
			prefix += "/"
		}
		key := u.Scheme + "://" + u.Host + "?" + u.Query().Encode()
		bucketsMu.Lock()
		defer bucketsMu.Unlock()
		b, ok := buckets[key]
		if !ok {
			bu := *u
			bu.Path, bu.RawPath = "", ""
			if b, err = open(ctx, &bu); err != nil {
				return nil, fmt.Errorf("storage: open %s: %w", redact(loc), err)
			}
			buckets[key] = b
		}
		base, q := splitQuery(loc)
		base = u.Scheme + "://" + u.Host
		if prefix != "" {
			base += "/" + strings.TrimSuffix(prefix, "/")
		}
		return &bucketDir{b: b, prefix: prefix, loc: base + q}, nil
	}
}

// bucketDir is a key prefix in a bucket.
type bucketDir struct {
	b      *blob.Bucket
	prefix string // "" or ending in "/"
	loc    string
}

func (d *bucketDir) String() string        { return d.loc }
func (d *bucketDir) Local() (string, bool) { return "", false }
func (d *bucketDir) Mkdir(context.Context) error {
	return nil
}

func (d *bucketDir) key(name string) string { return d.prefix + strings.TrimPrefix(name, "/") }

// wrap makes "not found" errors wrap fs.ErrNotExist and names the object.
func (d *bucketDir) wrap(op, name string, err error) error {
	if gcerrors.Code(err) == gcerrors.NotFound {
		return fmt.Errorf("storage: %s %s: %w", op, Join(d.loc, name), fs.ErrNotExist)
	}
	return fmt.Errorf("storage: %s %s: %w", op, Join(d.loc, name), err)
}

func (d *bucketDir) Create(ctx context.Context, name string) (Writer, error) {
	wctx, cancel := context.WithCancel(ctx)
	w, err := d.b.NewWriter(wctx, d.key(name), &blob.WriterOptions{
		ContentType: "application/octet-stream",
		BufferSize:  PartSize,
	})
	if err != nil {
		cancel()
		return nil, d.wrap("create", name, err)
	}
	return &bucketWriter{w: w, cancel: cancel, d: d, name: name}, nil
}

// bucketWriter streams to the service; the object is created by Close's final request.
type bucketWriter struct {
	w      *blob.Writer
	cancel context.CancelFunc
	d      *bucketDir
	name   string
	size   int64
	done   bool
}

func (w *bucketWriter) Write(p []byte) (int, error) {
	if w.done {
		return 0, fmt.Errorf("storage: write %s: %w", Join(w.d.loc, w.name), fs.ErrClosed)
	}
	n, err := w.w.Write(p)
	w.size += int64(n)
	if err != nil {
		return n, w.d.wrap("write", w.name, err)
	}
	return n, nil
}

func (w *bucketWriter) Size() int64 { return w.size }

func (w *bucketWriter) Commit() error {
	if w.done {
		return fmt.Errorf("storage: commit %s: %w", Join(w.d.loc, w.name), fs.ErrClosed)
	}
	w.done = true
	err := w.w.Close()
	w.cancel()
	if err != nil {
		return w.d.wrap("commit", w.name, err)
	}
	return nil
}

// Abort cancels the upload before its final request: no object is created.
func (w *bucketWriter) Abort() {
	if w.done {
		return
	}
	w.done = true
	w.cancel()
	w.w.Close()
}

func (d *bucketDir) Open(ctx context.Context, name string) (Reader, error) {
	attrs, err := d.b.Attributes(ctx, d.key(name))
	if err != nil {
		return nil, d.wrap("open", name, err)
	}
	return newRemoteReader(ctx, d, name, attrs.Size), nil
}

// download streams the whole object into w with one request.
func (d *bucketDir) download(ctx context.Context, name string, w io.Writer) error {
	r, err := d.b.NewReader(ctx, d.key(name), nil)
	if err != nil {
		return d.wrap("read", name, err)
	}
	defer r.Close()
	if _, err := io.Copy(w, r); err != nil {
		return d.wrap("read", name, err)
	}
	return nil
}

// readRange reads length bytes at off into p.
func (d *bucketDir) readRange(ctx context.Context, name string, off int64, p []byte) error {
	r, err := d.b.NewRangeReader(ctx, d.key(name), off, int64(len(p)), nil)
	if err != nil {
		return d.wrap("read", name, err)
	}
	defer r.Close()
	if _, err := io.ReadFull(r, p); err != nil {
		return d.wrap("read", name, err)
	}
	return nil
}

func (d *bucketDir) Stat(ctx context.Context, name string) (Info, error) {
	name = strings.Trim(name, "/")
	attrs, err := d.b.Attributes(ctx, d.key(name))
	if err == nil {
		return Info{Name: name, Size: attrs.Size, ModTime: attrs.ModTime}, nil
	}
	if gcerrors.Code(err) != gcerrors.NotFound {
		return Info{}, d.wrap("stat", name, err)
	}
	// A folder exists through the names under it.
	objs, _, err := d.b.ListPage(ctx, blob.FirstPageToken, 1, &blob.ListOptions{Prefix: d.key(name) + "/", Delimiter: "/"})
	if err != nil {
		return Info{}, d.wrap("stat", name, err)
	}
	if len(objs) == 0 {
		return Info{}, fmt.Errorf("storage: stat %s: %w", Join(d.loc, name), fs.ErrNotExist)
	}
	return Info{Name: name, IsDir: true}, nil
}

func (d *bucketDir) List(ctx context.Context, prefix string) ([]Info, error) {
	it := d.b.List(&blob.ListOptions{Prefix: d.prefix + prefix, Delimiter: "/"})
	var out []Info
	for {
		obj, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("storage: list %s: %w", d.loc, err)
		}
		name := strings.TrimPrefix(obj.Key, d.prefix)
		if obj.IsDir {
			out = append(out, Info{Name: strings.TrimSuffix(name, "/"), IsDir: true})
			continue
		}
		out = append(out, Info{Name: name, Size: obj.Size, ModTime: obj.ModTime})
	}
	slices.SortFunc(out, func(a, b Info) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// listAll returns the keys of every object under the Dir, sub-folders included, relative to it.
func (d *bucketDir) listAll(ctx context.Context) ([]string, error) {
	it := d.b.List(&blob.ListOptions{Prefix: d.prefix})
	var out []string
	for {
		obj, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("storage: list %s: %w", d.loc, err)
		}
		out = append(out, strings.TrimPrefix(obj.Key, d.prefix))
	}
}

func (d *bucketDir) Delete(ctx context.Context, name string) error {
	if err := d.b.Delete(ctx, d.key(name)); err != nil && gcerrors.Code(err) != gcerrors.NotFound {
		return d.wrap("delete", name, err)
	}
	return nil
}

func (d *bucketDir) Sub(name string) Dir {
	name = strings.Trim(name, "/")
	if name == "" {
		return d
	}
	return &bucketDir{b: d.b, prefix: d.prefix + name + "/", loc: Join(d.loc, name)}
}
