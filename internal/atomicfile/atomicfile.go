// Package atomicfile is the one way wit makes outputs appear: a reader sees the old content or the
// new one, never a mix, and a crash leaves no half-written file under the final name.
//
// A file is written to a temporary file in the same directory ("NAME.tmp-*"), fsynced, made 0644
// and renamed over NAME, and the directory is fsynced so the rename survives a power cut.
// WriteFile and WriteJSON do that for data in memory (stats, manifests, configs, tokenizers);
// Create returns a File for data streamed in (shards, exports, failed-item lists), whose Finish
// and Commit split the protocol where a caller must record something between the two (the shard
// writer's BeforeCommit hook). CreateDir does the same for a whole directory built in place
// (".NAME.tmp-*" beside it). Temporary names all contain TempMarker, which is how the stages find
// and remove what a killed run left.
package atomicfile

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// TempMarker separates a final name from the random suffix of its temporary name.
const TempMarker = ".tmp-"

// WriteFile writes data to path atomically. The directory must exist.
func WriteFile(path string, data []byte) error {
	f, err := Create(path)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Abort()
		return err
	}
	return f.Commit()
}

// WriteJSON writes v to path atomically as indented JSON with a final newline, the form of every
// stats, manifest and report file. The directory must exist.
func WriteJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	return WriteFile(path, append(data, '\n'))
}

// File is a file being written under a temporary name; Commit renames it over its final path.
// Writes are buffered. It has deliberately no Close: handed as the sink of a library that closes
// its sink when done (pqarrow does), it is neither committed nor dropped behind the caller's back.
// A File is not safe for concurrent use.
type File struct {
	f        *os.File
	buf      *bufio.Writer
	path     string
	size     int64
	finished bool
	done     bool // committed or aborted
}

// Create starts a file that Commit will put at path. The directory must exist.
func Create(path string) (*File, error) {
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+TempMarker+"*")
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	return &File{f: f, buf: bufio.NewWriterSize(f, 64<<10), path: path}, nil
}

// Write appends p to the file.
func (f *File) Write(p []byte) (int, error) {
	if f.finished {
		return 0, fmt.Errorf("write %s: %w", f.path, os.ErrClosed)
	}
	n, err := f.buf.Write(p)
	f.size += int64(n)
	if err != nil {
		return n, fmt.Errorf("write %s: %w", f.path, err)
	}
	return n, nil
}

// Path is the final path, where Commit puts the file.
func (f *File) Path() string { return f.path }

// TempPath is where the file is until Commit.
func (f *File) TempPath() string { return f.f.Name() }

// Size is the number of bytes written so far.
func (f *File) Size() int64 { return f.size }

// Finish makes the content durable under the temporary name: it flushes, makes the file 0644
// (os.CreateTemp makes 0600 files; outputs are read by other users and tools too), fsyncs and
// closes it. Nothing can be written after it. On error the temporary file is removed.
func (f *File) Finish() error {
	if f.done {
		return fmt.Errorf("finish %s: %w", f.path, os.ErrClosed)
	}
	if f.finished {
		return nil
	}
	f.finished = true
	if err := f.finish(); err != nil {
		f.Abort()
		return err
	}
	return nil
}

func (f *File) finish() error {
	if err := f.buf.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", f.path, err)
	}
	if err := f.f.Chmod(0o644); err != nil {
		return fmt.Errorf("chmod %s: %w", f.path, err)
	}
	if err := f.f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", f.path, err)
	}
	if err := f.f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", f.path, err)
	}
	return nil
}

// Commit finishes the file if Finish has not, renames it over its final path and fsyncs the
// directory. On error the temporary file is removed and the final path is left as it was.
func (f *File) Commit() error {
	if f.done {
		return fmt.Errorf("commit %s: %w", f.path, os.ErrClosed)
	}
	if err := f.Finish(); err != nil {
		return err
	}
	f.done = true
	if err := os.Rename(f.f.Name(), f.path); err != nil {
		os.Remove(f.f.Name())
		return fmt.Errorf("rename %s: %w", f.path, err)
	}
	return SyncDir(filepath.Dir(f.path))
}

// Abort drops the file: it is closed and its temporary file removed. It does nothing after
// Commit, so it may be deferred.
func (f *File) Abort() {
	if f.done {
		return
	}
	f.done, f.finished = true, true
	f.f.Close()
	os.Remove(f.f.Name())
}

// Dir is a directory being built under a temporary name beside its final path; Commit renames it
// into place.
type Dir struct {
	tmp, path string
	done      bool
}

// CreateDir makes a temporary directory ".NAME.tmp-*" (mode 0755) in the parent of path, which
// must exist. Hidden, so that it does not pass for an output while it is built.
func CreateDir(path string) (*Dir, error) {
	path = filepath.Clean(path)
	tmp, err := os.MkdirTemp(filepath.Dir(path), "."+filepath.Base(path)+TempMarker+"*")
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil { // MkdirTemp makes it private
		os.Remove(tmp)
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	return &Dir{tmp: tmp, path: path}, nil
}

// Path is the final path, where Commit puts the directory.
func (d *Dir) Path() string { return d.path }

// TempPath is the directory to write into until Commit.
func (d *Dir) TempPath() string { return d.tmp }

// Commit fsyncs the temporary directory (the names in it), renames it to its final path and
// fsyncs the parent. An empty directory at the final path is replaced; a non-empty one is an
// error, and nothing is removed then. The files inside must have been synced by their writers.
func (d *Dir) Commit() error {
	if d.done {
		return fmt.Errorf("commit %s: %w", d.path, os.ErrClosed)
	}
	if err := SyncDir(d.tmp); err != nil {
		return err
	}
	// os.Remove refuses a non-empty directory, which is what keeps an output nobody expected.
	if err := os.Remove(d.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("replace %s: %w", d.path, err)
	}
	if err := os.Rename(d.tmp, d.path); err != nil {
		return fmt.Errorf("rename %s: %w", d.path, err)
	}
	d.done = true
	return SyncDir(filepath.Dir(d.path))
}

// Abort removes the temporary directory and all in it. It does nothing after Commit, so it may
// be deferred.
func (d *Dir) Abort() {
	if d.done {
		return
	}
	d.done = true
	os.RemoveAll(d.tmp)
}

// SyncDir fsyncs a directory so that renames in it are durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open dir %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync dir %s: %w", dir, err)
	}
	return nil
}
