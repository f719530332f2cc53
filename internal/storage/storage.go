package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// Dir is a folder of files: a directory on local disk or a key prefix in a bucket. Names are
// relative to the Dir and use "/" as separator. Methods are safe for concurrent use.
type Dir interface {
	// String is the Dir's location (a path or a URL), for messages and for Join.
	String() string
	// Local returns the directory's path when it is on local disk.
	Local() (string, bool)
	// Mkdir makes the directory and its parents on local disk; on object storage, where
	// folders exist through the names in them, it does nothing.
	Mkdir(ctx context.Context) error
	// Create starts a file that appears under name only when its Writer commits.
	Create(ctx context.Context, name string) (Writer, error)
	// Open opens a file for reading; a remote Reader makes its requests with ctx. A missing file
	// gives an error wrapping fs.ErrNotExist.
	Open(ctx context.Context, name string) (Reader, error)
	// Stat describes a file or sub-folder. A missing one gives an error wrapping fs.ErrNotExist.
	Stat(ctx context.Context, name string) (Info, error)
	// List returns the files and sub-folders directly in the Dir whose names start with prefix,
	// sorted by name. A missing Dir lists as empty.
	List(ctx context.Context, prefix string) ([]Info, error)
	// Delete removes a file; a missing file is not an error.
	Delete(ctx context.Context, name string) error
	// Sub returns the folder name inside the Dir.
	Sub(name string) Dir
}

// Writer is a file being written. Nothing is visible under its name before Commit.
type Writer interface {
	io.Writer
	// Size is the number of bytes written so far.
	Size() int64
	// Commit makes the complete file visible under its name, replacing any file there. On error
	// nothing new is visible.
	Commit() error
	// Abort drops the file. It does nothing after Commit, so it may be deferred.
	Abort()
}

// Staged is implemented by Writers whose content is durable in a local temporary file before
// Commit: local files, and the writers of CreateStaged.
type Staged interface {
	// Finish makes the content durable under TempPath; nothing can be written after it.
	Finish() error
	// TempPath is the local temporary file holding the content until Commit.
	TempPath() string
}

// Reader reads a file. ReadAt may be called concurrently; Read and Seek share one offset.
type Reader interface {
	io.Reader
	io.ReaderAt
	io.Seeker
	io.Closer
	Size() int64
}

// Info describes a file or folder in a Dir.
type Info struct {
	Name    string // name in the Dir (no trailing "/" for folders)
	Size    int64
	ModTime time.Time
	IsDir   bool
}

// Open returns the Dir at location loc: a local path, a file:// URL or an object-store URL
// (s3://bucket/prefix?params). Opening does not touch the location; a local Dir is not created
// until Mkdir or Create.
func Open(ctx context.Context, loc string) (Dir, error) {
	if loc == "" {
		return nil, errors.New("storage: empty location")
	}
	scheme, ok := schemeOf(loc)
	if !ok {
		return localDir{path: loc}, nil
	}
	if scheme == "file" {
		p, err := filePath(loc)
		if err != nil {
			return nil, err
		}
		return localDir{path: p}, nil
	}
	opener, ok := remoteSchemes[scheme]
	if !ok {
		return nil, fmt.Errorf("storage: %s: scheme %q not supported (local paths, file://, s3://)", redact(loc), scheme)
	}
	return opener(ctx, loc)
}

// remoteSchemes maps URL schemes to their Dir openers (s3 in s3.go).
var remoteSchemes = map[string]func(ctx context.Context, loc string) (Dir, error){}

// schemeOf returns the URL scheme of loc ("" and false for a plain path).
func schemeOf(loc string) (string, bool) {
	i := strings.Index(loc, "://")
	if i <= 0 {
		return "", false
	}
	s := loc[:i]
	for j, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || j > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return "", false
		}
	}
	return strings.ToLower(s), true
}

func filePath(loc string) (string, error) {
	u, err := url.Parse(loc)
	if err != nil {
		return "", fmt.Errorf("storage: %w", err)
	}
	if u.Host != "" && u.Host != "localhost" {
		return "", fmt.Errorf("storage: %s: file URLs name a local path (file:///abs/path)", loc)
	}
	if u.Path == "" {
		return "", fmt.Errorf("storage: %s: no path", loc)
	}
	return u.Path, nil
}

// IsRemote reports whether loc names object storage (not a local path or file:// URL).
func IsRemote(loc string) bool {
	s, ok := schemeOf(loc)
	return ok && s != "file"
}

// LocalPath returns the path of a local location (a path or a file:// URL).
func LocalPath(loc string) (string, bool) {
	s, ok := schemeOf(loc)
	if !ok {
		return loc, true
	}
	if s != "file" {
		return "", false
	}
	p, err := filePath(loc)
	return p, err == nil
}

// splitQuery splits a URL location into the part before "?" and the query ("?..." or "").
func splitQuery(loc string) (string, string) {
	if i := strings.IndexByte(loc, '?'); i >= 0 {
		return loc[:i], loc[i:]
	}
	return loc, ""
}

// Join returns the location of elem inside the folder at loc.
func Join(loc string, elem ...string) string {
	if !IsRemote(loc) {
		if p, ok := LocalPath(loc); ok {
			loc = p
		}
		return filepath.Join(append([]string{loc}, elem...)...)
	}
	base, q := splitQuery(loc)
	rest := path.Join(elem...)
	if rest == "" || rest == "." {
		return loc
	}
	return strings.TrimSuffix(base, "/") + "/" + rest + q
}

// Base returns the last element of a location.
func Base(loc string) string {
	if !IsRemote(loc) {
		if p, ok := LocalPath(loc); ok {
			loc = p
		}
		return filepath.Base(loc)
	}
	base, _ := splitQuery(loc)
	return path.Base(strings.TrimSuffix(base, "/"))
}

// Parent returns the location of the folder holding loc. The parent of a bucket's root is itself.
func Parent(loc string) string {
	if !IsRemote(loc) {
		if p, ok := LocalPath(loc); ok {
			loc = p
		}
		return filepath.Dir(filepath.Clean(loc))
	}
	base, q := splitQuery(loc)
	base = strings.TrimSuffix(base, "/")
	i := strings.Index(base, "://") + 3
	j := strings.LastIndexByte(base, '/')
	if j < i {
		return base + q // the bucket itself
	}
	return base[:j] + q
}

// Inside reports whether location b is location a or lies below it.
func Inside(a, b string) bool {
	if IsRemote(a) != IsRemote(b) {
		return false
	}
	if !IsRemote(a) {
		pa, _ := LocalPath(a)
		pb, _ := LocalPath(b)
		aa, err1 := filepath.Abs(pa)
		bb, err2 := filepath.Abs(pb)
		if err1 != nil || err2 != nil {
			return false
		}
		return aa == bb || strings.HasPrefix(bb, aa+string(filepath.Separator))
	}
	ba, _ := splitQuery(a)
	bb, _ := splitQuery(b)
	ba, bb = strings.TrimSuffix(ba, "/"), strings.TrimSuffix(bb, "/")
	return ba == bb || strings.HasPrefix(bb, ba+"/")
}

// redact drops a URL's query (which may name endpoints or profiles) for error messages that do
// not need it; locations hold no secrets, but messages stay short.
func redact(loc string) string {
	base, _ := splitQuery(loc)
	return base
}

// dirOf opens the Dir holding the file at loc and returns it with the file's name.
func dirOf(ctx context.Context, loc string) (Dir, string, error) {
	d, err := Open(ctx, Parent(loc))
	if err != nil {
		return nil, "", err
	}
	return d, Base(loc), nil
}

// OpenFile opens the file at loc for reading.
func OpenFile(ctx context.Context, loc string) (Reader, error) {
	d, name, err := dirOf(ctx, loc)
	if err != nil {
		return nil, err
	}
	return d.Open(ctx, name)
}

// Stat describes the file or folder at loc. On object storage a folder exists when some name
// lies under it.
func Stat(ctx context.Context, loc string) (Info, error) {
	if p, ok := LocalPath(loc); ok {
		return localDir{path: filepath.Dir(p)}.Stat(ctx, filepath.Base(p))
	}
	d, name, err := dirOf(ctx, loc)
	if err != nil {
		return Info{}, err
	}
	if Parent(loc) == loc { // a bucket's root
		d, err := Open(ctx, loc)
		if err != nil {
			return Info{}, err
		}
		if _, err := d.List(ctx, ""); err != nil {
			return Info{}, err
		}
		return Info{Name: Base(loc), IsDir: true}, nil
	}
	return d.Stat(ctx, name)
}

// ReadFile reads the whole file at loc.
func ReadFile(ctx context.Context, loc string) ([]byte, error) {
	r, err := OpenFile(ctx, loc)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	data := make([]byte, r.Size())
	if _, err := io.ReadFull(r, data); err != nil {
		return nil, fmt.Errorf("storage: read %s: %w", redact(loc), err)
	}
	return data, nil
}

// WriteFile writes data to the file at loc atomically (see Dir.Create). A local parent
// directory is created if needed.
func WriteFile(ctx context.Context, loc string, data []byte) error {
	d, name, err := dirOf(ctx, loc)
	if err != nil {
		return err
	}
	return Put(ctx, d, name, data)
}

// Put writes data to name in d atomically.
func Put(ctx context.Context, d Dir, name string, data []byte) error {
	w, err := d.Create(ctx, name)
	if err != nil {
		return err
	}
	if _, err := w.Write(data); err != nil {
		w.Abort()
		return err
	}
	return w.Commit()
}

// WriteJSON writes v as indented JSON with a final newline to the file at loc atomically, the
// form of every stats, manifest and report file.
func WriteJSON(ctx context.Context, loc string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("storage: encode %s: %w", redact(loc), err)
	}
	return WriteFile(ctx, loc, append(data, '\n'))
}

// IsNotExist reports whether err says a file or folder does not exist.
func IsNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
