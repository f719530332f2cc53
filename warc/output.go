package warc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/witdata/wit/internal/atomicfile"
	"github.com/witdata/wit/internal/storage"
)

// Output creates an archive's files. A file is visible under its name only once committed, so
// a reader never sees a file being written. DirOutput writes to a local directory,
// StorageOutput to object storage; NewOutput picks the one for a location. An Output with a
// Close method (StorageOutput) is closed by Archive.Close after its last file is committed.
type Output interface {
	Create(name string) (OutputFile, error)
}

// OutputFile is a file being written.
type OutputFile interface {
	io.Writer
	Commit() error // the file is complete: publish it under its name
	Abort() error  // drop it
}

const tempMarker = atomicfile.TempMarker

// NewOutput returns the Output for an archive location: a local directory or file:// URL
// (NewDirOutput), or an object-store URL such as s3://bucket/prefix?region=... (NewStorageOutput,
// which stages its files in the local directory stageDir). Files a killed process left
// unfinished are recovered first.
func NewOutput(ctx context.Context, loc, stageDir string, log *slog.Logger) (Output, error) {
	if p, ok := storage.LocalPath(loc); ok {
		return NewDirOutput(p, log)
	}
	return NewStorageOutput(ctx, loc, stageDir, log)
}

// DirOutput writes files into a directory as NAME.tmp-* and renames them to NAME on Commit.
type DirOutput struct {
	Dir string
}

// NewDirOutput creates dir if needed and recovers files left under temporary names by a process
// that was killed while writing them (see Recover).
func NewDirOutput(dir string, log *slog.Logger) (*DirOutput, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("warc: create %s: %w", dir, err)
	}
	d := &DirOutput{Dir: dir}
	if err := d.Recover(log); err != nil {
		return nil, err
	}
	return d, nil
}

// Create starts NAME.tmp-* in the directory.
func (d *DirOutput) Create(name string) (OutputFile, error) {
	return createTemp(d.Dir, name, d.publish)
}

func (d *DirOutput) publish(name, tmp string) error {
	if err := os.Rename(tmp, filepath.Join(d.Dir, name)); err != nil {
		return fmt.Errorf("warc: rename %s: %w", tmp, err)
	}
	return atomicfile.SyncDir(d.Dir)
}

func (d *DirOutput) published(name string) (int64, bool, error) {
	st, err := os.Stat(filepath.Join(d.Dir, name))
	if errors.Is(err, os.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("warc: %w", err)
	}
	return st.Size(), true, nil
}

// Recover finishes the files a killed process left under temporary names: each is cut after
// its last complete record (per-record gzip makes that a member boundary) and renamed to its
// final name. A file with no record after its warcinfo is removed. Records of requests that were
// still in flight are lost with the process; everything written before stays archived.
func (d *DirOutput) Recover(log *slog.Logger) error {
	return recoverTemps(d.Dir, d.publish, d.published, log)
}

// StorageOutput writes an archive to object storage (internal/storage). Each file is written
// record by record to a local file NAME.tmp-* in the staging directory, as DirOutput writes it,
// and uploaded whole once committed: one object, created by the upload's final request, so the
// store never shows a partial file. Uploads run in the background, one at a time, so that the
// writers (a crawl's fetches) do not wait for a file to upload; a commit waits for the previous
// upload, which bounds the staged files to two. An upload that fails, or that a killed process
// cut off, leaves its complete file staged, and the next NewStorageOutput uploads it; a file
// a killed process was still writing is first cut after its last complete record, as Recover
// does for DirOutput. The staging directory belongs to one output location.
type StorageOutput struct {
	ctx   context.Context // never cancelled: files committed before a cancel are still uploaded
	dest  storage.Dir
	stage string
	log   *slog.Logger

	slot chan struct{} // held by the running upload
	mu   sync.Mutex
	err  error // the first failed upload
}

// NewStorageOutput returns the Output for the object-store location loc, staging files in the
// local directory stageDir, after uploading the files a killed process left there (Recover).
func NewStorageOutput(ctx context.Context, loc, stageDir string, log *slog.Logger) (*StorageOutput, error) {
	if log == nil {
		log = slog.Default()
	}
	if stageDir == "" {
		return nil, fmt.Errorf("warc: archive on %s needs a local staging directory", loc)
	}
	dest, err := storage.Open(ctx, loc)
	if err != nil {
		return nil, fmt.Errorf("warc: %w", err)
	}
	if err := os.MkdirAll(stageDir, 0o755); err != nil {
		return nil, fmt.Errorf("warc: create %s: %w", stageDir, err)
	}
	o := &StorageOutput{ctx: context.WithoutCancel(ctx), dest: dest, stage: stageDir, log: log, slot: make(chan struct{}, 1)}
	if err := o.Recover(log); err != nil {
		return nil, err
	}
	return o, nil
}

// Create starts NAME.tmp-* in the staging directory.
func (o *StorageOutput) Create(name string) (OutputFile, error) {
	return createTemp(o.stage, name, o.startUpload)
}

// startUpload waits for the previous upload and starts this one; after a failed upload it
// refuses, leaving the file staged for the next run.
func (o *StorageOutput) startUpload(name, tmp string) error {
	o.slot <- struct{}{}
	o.mu.Lock()
	err := o.err
	o.mu.Unlock()
	if err != nil {
		<-o.slot
		return fmt.Errorf("%w (%s stays staged in %s for the next run)", err, name, o.stage)
	}
	go func() {
		defer func() { <-o.slot }()
		if err := o.upload(name, tmp); err != nil {
			o.log.Error("warc: upload failed; the file stays staged and is uploaded by the next run", "file", name, "stage", o.stage, "err", err)
			o.mu.Lock()
			if o.err == nil {
				o.err = err
			}
			o.mu.Unlock()
		}
	}()
	return nil
}

func (o *StorageOutput) upload(name, tmp string) error {
	if err := storage.MoveIn(o.ctx, o.dest, name, tmp); err != nil {
		return fmt.Errorf("warc: %w", err)
	}
	return nil
}

func (o *StorageOutput) published(name string) (int64, bool, error) {
	info, err := o.dest.Stat(o.ctx, name)
	if storage.IsNotExist(err) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("warc: %w", err)
	}
	return info.Size, true, nil
}

// Close waits for the running upload and returns the error of the first upload that failed.
func (o *StorageOutput) Close() error {
	o.slot <- struct{}{}
	<-o.slot
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.err
}

// Recover uploads the files left in the staging directory: complete ones whose upload was cut
// off, and ones a killed process was writing, cut after their last complete record.
func (o *StorageOutput) Recover(log *slog.Logger) error {
	return recoverTemps(o.stage, o.upload, o.published, log)
}

// String is the archive's location.
func (o *StorageOutput) String() string { return o.dest.String() }

// createTemp starts NAME.tmp-* in dir; Commit makes it durable and hands it to publish.
func createTemp(dir, name string, publish func(name, tmp string) error) (OutputFile, error) {
	f, err := os.CreateTemp(dir, name+tempMarker+"*")
	if err != nil {
		return nil, fmt.Errorf("warc: create %s: %w", name, err)
	}
	return &tempFile{f: f, name: name, publish: publish}, nil
}

// tempFile is unbuffered: Writer flushes each record to it, so a killed process loses at most
// the record being written.
type tempFile struct {
	f       *os.File
	name    string
	publish func(name, tmp string) error
}

func (f *tempFile) Write(p []byte) (int, error) { return f.f.Write(p) }

func (f *tempFile) Commit() error {
	tmp := f.f.Name()
	if err := finishFile(f.f); err != nil {
		return err
	}
	return f.publish(f.name, tmp)
}

func (f *tempFile) Abort() error {
	f.f.Close()
	if err := os.Remove(f.f.Name()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("warc: remove %s: %w", f.f.Name(), err)
	}
	return nil
}

// finishFile makes f readable by others (os.CreateTemp makes 0600 files), durable, and closes it.
func finishFile(f *os.File) error {
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return fmt.Errorf("warc: chmod %s: %w", f.Name(), err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("warc: sync %s: %w", f.Name(), err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("warc: close %s: %w", f.Name(), err)
	}
	return nil
}

// recoverTemps finishes the archive files left under temporary names in dir: each is cut after
// its last complete record and published; one with no record after its warcinfo is removed. A
// file already published under its name with the size of the complete temporary file (a
// process killed between an upload and the removal of its staged file) is only removed.
func recoverTemps(dir string, publish func(name, tmp string) error, published func(name string) (int64, bool, error), log *slog.Logger) error {
	if log == nil {
		log = slog.Default()
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("warc: list %s: %w", dir, err)
	}
	for _, e := range entries {
		i := strings.Index(e.Name(), Ext+tempMarker)
		if e.IsDir() || i <= 0 {
			continue
		}
		tmp := filepath.Join(dir, e.Name())
		name := e.Name()[:i+len(Ext)]
		records, end, err := completePrefix(tmp)
		if err != nil {
			return err
		}
		if records <= 1 {
			if err := os.Remove(tmp); err != nil {
				return fmt.Errorf("warc: remove %s: %w", tmp, err)
			}
			continue
		}
		size, exists, err := published(name)
		if err != nil {
			return err
		}
		if exists {
			st, err := os.Stat(tmp)
			if err != nil || st.Size() != end || size != end {
				return fmt.Errorf("warc: cannot recover %s: %s exists", tmp, name)
			}
			if err := os.Remove(tmp); err != nil {
				return fmt.Errorf("warc: remove %s: %w", tmp, err)
			}
			continue
		}
		if err := os.Truncate(tmp, end); err != nil {
			return fmt.Errorf("warc: recover %s: %w", tmp, err)
		}
		f, err := os.OpenFile(tmp, os.O_RDWR, 0)
		if err != nil {
			return fmt.Errorf("warc: recover %s: %w", tmp, err)
		}
		if err := finishFile(f); err != nil {
			return err
		}
		if err := publish(name, tmp); err != nil {
			return err
		}
		log.Info("warc: recovered an archive file cut off by the last run", "file", name, "records", records)
	}
	return nil
}

// completePrefix reads path and returns how many records are complete from its start and the
// offset where the first incomplete or damaged one begins.
func completePrefix(path string) (records int, end int64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, fmt.Errorf("warc: recover %s: %w", path, err)
	}
	defer f.Close()
	rd := NewReader(f, ReaderOptions{})
	for {
		rec, err := rd.Next()
		if err != nil {
			return records, end, nil
		}
		if _, err := io.Copy(io.Discard, rec.Body); err != nil {
			return records, end, nil
		}
		c := rd.Counts()
		if c.BadMembers > 0 || c.Malformed > 0 || rd.compressed && rd.inMember {
			// Damage, or a record that does not end its gzip member: cut before it.
			return records, end, nil
		}
		records++
		end = rd.Offset()
	}
}
