package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
)

// Prefetcher downloads the files of a remote Dir that a reader will open next, in the order it
// will open them, into local temporary files (in os.TempDir), so that their transfer overlaps the reading of the
// ones before. Opening names[i] starts the downloads up to names[i+ahead]; at most ahead+1 local
// copies exist at once (disk, not memory, holds them), and each is removed when its Reader is
// closed. On a local Dir it just opens the files.
type Prefetcher struct {
	dir   Dir
	names []string
	pos   map[string]int
	ahead int

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu    sync.Mutex
	items map[int]*prefetched
	next  int // index of the next download to start
}

type prefetched struct {
	done   chan struct{}
	path   string
	err    error
	opened bool
}

// NewPrefetcher prepares to read names of dir in that order, ahead files in advance. Close it to
// stop the downloads and remove the copies.
func NewPrefetcher(ctx context.Context, dir Dir, names []string, ahead int) *Prefetcher {
	ctx, cancel := context.WithCancel(ctx)
	p := &Prefetcher{dir: dir, names: names, pos: make(map[string]int, len(names)), ahead: ahead,
		ctx: ctx, cancel: cancel, items: map[int]*prefetched{}}
	if _, local := dir.Local(); local {
		p.ahead = 0
	}
	for i, n := range names {
		if _, dup := p.pos[n]; !dup {
			p.pos[n] = i
		}
	}
	return p
}

// Open opens name: its local copy when it is being prefetched (waiting for the download), else
// the file itself.
func (p *Prefetcher) Open(ctx context.Context, name string) (Reader, error) {
	i, ok := p.pos[name]
	if !ok || p.ahead <= 0 {
		return p.dir.Open(ctx, name)
	}
	p.mu.Lock()
	// Copies before i that were never opened will not be: the reader moved past them.
	for j, it := range p.items {
		if j < i && !it.opened {
			delete(p.items, j)
			p.wg.Add(1) // Close waits for the removal too, so no copy outlives it
			go p.discard(it)
		}
	}
	if p.next <= i {
		p.next = i // skipped names are not downloaded
	}
	for p.next <= i+p.ahead && p.next < len(p.names) {
		p.start(p.next)
		p.next++
	}
	it, ok := p.items[i]
	if ok {
		it.opened = true
	}
	p.mu.Unlock()
	if !ok { // opened twice, or its copy was dropped: read it directly
		return p.dir.Open(ctx, name)
	}
	select {
	case <-it.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if it.err != nil {
		return nil, it.err
	}
	f, err := os.Open(it.path)
	if err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("storage: %w", err)
	}
	p.mu.Lock()
	delete(p.items, i)
	p.mu.Unlock()
	return &tempReader{localReader{File: f, size: st.Size()}}, nil
}

// start begins the download of names[i] (p.mu held).
func (p *Prefetcher) start(i int) {
	if _, ok := p.items[i]; ok {
		return
	}
	it := &prefetched{done: make(chan struct{})}
	p.items[i] = it
	name := p.names[i]
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		defer close(it.done)
		it.path, it.err = p.download(name)
	}()
}

// download copies name into a new temporary file (in os.TempDir) and returns its path.
func (p *Prefetcher) download(name string) (_ string, err error) {
	f, err := os.CreateTemp("", "wit-prefetch-*-"+filepath.Base(filepath.FromSlash(name)))
	if err != nil {
		return "", fmt.Errorf("storage: prefetch: %w", err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("storage: prefetch: %w", cerr)
		}
		if err != nil {
			os.Remove(f.Name())
		}
	}()
	if err := p.copyTo(name, f); err != nil {
		return "", err
	}
	return f.Name(), nil
}

func (p *Prefetcher) copyTo(name string, f *os.File) error {
	if bd, ok := p.dir.(*bucketDir); ok {
		return bd.download(p.ctx, name, f)
	}
	r, err := p.dir.Open(p.ctx, name)
	if err != nil {
		return err
	}
	defer r.Close()
	if _, err := io.Copy(f, r); err != nil {
		return fmt.Errorf("storage: prefetch %s: %w", name, err)
	}
	return nil
}

func (p *Prefetcher) discard(it *prefetched) {
	defer p.wg.Done()
	<-it.done
	if it.err == nil {
		os.Remove(it.path)
	}
}

// Close stops the downloads and removes the copies not handed out; readers already returned
// stay valid (their copy goes when they are closed).
func (p *Prefetcher) Close() error {
	p.cancel()
	p.wg.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	var errs []error
	for j, it := range p.items {
		if it.err == nil {
			if err := os.Remove(it.path); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
		}
		delete(p.items, j)
	}
	return errors.Join(errs...)
}

// tempReader is a prefetched copy, removed when closed.
type tempReader struct{ localReader }

func (r *tempReader) Close() error {
	err := r.File.Close()
	os.Remove(r.Name())
	return err
}
