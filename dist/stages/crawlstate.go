package stages

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/witdata/wit/internal/atomicfile"
	"github.com/witdata/wit/internal/storage"
	"github.com/witdata/wit/shards"
)

// A crawl whose --state is on object storage keeps each partition's pebble state on the local
// disk of the worker that holds the partition, and saves it to the bucket when the lease ends:
// <state>/pNNNN/GGGGGGGGGG.tar, one complete object per generation G, holding the state folder
// and the list of the partition's pair files at that moment (pairs.json). The next holder
// restores the newest generation (or reuses its local copy when it is that generation) and
// writes generation G+1; older generations are deleted once the new one is complete.
//
// What a lease did after the snapshot it started from is lost when its worker dies, and the next
// holder redoes it, so nothing the lease did may outlive it unless the work is redone
// identically or harmlessly:
//   - pair files it committed are not in the snapshot's list: the next holder deletes them
//     before crawling (restorePartition), and writes the pairs again;
//   - links it received are acked only after the snapshot that holds them is saved (the inbox
//     keeps the messages in progress until then), so a dead holder's are delivered again;
//   - links it forwarded are forwarded again by the next holder; their message IDs carry the
//     lease's own nonce (the restored outbox numbers are reused), and the receiver's visited set
//     drops what it has already admitted.

const snapshotExt = ".tar"

// partitionSnapshot is what a local copy of a partition's state records about itself.
type partitionSnapshot struct {
	Generation int      `json:"generation"` // the bucket snapshot it equals; 0: none
	Files      []string `json:"files"`      // the partition's pair files at that snapshot
}

// localPartition is a partition's state on this machine, locked for one lease.
type localPartition struct {
	state    string // the pebble folder crawl.Run uses
	marker   string // <state>.snapshot: the partitionSnapshot the folder equals (absent while it differs)
	remote   string // <state location>/pNNNN
	restored partitionSnapshot
	unlock   func()
}

func snapshotName(gen int) string { return fmt.Sprintf("%010d%s", gen, snapshotExt) }

// snapshotGenerations lists the generations saved in remote, oldest first.
func snapshotGenerations(ctx context.Context, remote string) ([]int, error) {
	d, err := storage.Open(ctx, remote)
	if err != nil {
		return nil, err
	}
	entries, err := d.List(ctx, "")
	if err != nil {
		return nil, err
	}
	var gens []int
	for _, e := range entries {
		if num, ok := strings.CutSuffix(e.Name, snapshotExt); ok && !e.IsDir {
			if g, err := strconv.Atoi(num); err == nil && g > 0 && e.Name == snapshotName(g) {
				gens = append(gens, g)
			}
		}
	}
	slices.Sort(gens)
	return gens, nil
}

// restorePartition prepares partition p's state for a lease: the newest snapshot under
// stateLoc/pNNNN (or none: a new partition) in a local folder, and partDir without the pair
// files that snapshot does not list.
func restorePartition(ctx context.Context, stateLoc, partDir string, p int) (*localPartition, error) {
	sum := sha256.Sum256([]byte(stateLoc))
	root := filepath.Join(os.TempDir(), "wit-crawl-"+hex.EncodeToString(sum[:8]))
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("crawl state: %w", err)
	}
	lp := &localPartition{state: filepath.Join(root, partitionID(p)), remote: storage.Join(stateLoc, partitionID(p))}
	lp.marker = lp.state + ".snapshot"
	unlock, err := lockFile(lp.state + ".lock")
	if err != nil {
		return nil, err
	}
	lp.unlock = unlock
	ok := false
	defer func() {
		if !ok {
			unlock()
		}
	}()
	gens, err := snapshotGenerations(ctx, lp.remote)
	if err != nil {
		return nil, fmt.Errorf("crawl state of %s: %w", partitionID(p), err)
	}
	newest := 0
	if len(gens) > 0 {
		newest = gens[len(gens)-1]
	}
	var local partitionSnapshot
	if data, err := os.ReadFile(lp.marker); err == nil && json.Unmarshal(data, &local) == nil && local.Generation == newest && newest > 0 {
		lp.restored = local
	} else {
		if err := os.RemoveAll(lp.state); err != nil {
			return nil, fmt.Errorf("crawl state: %w", err)
		}
		if newest > 0 {
			if lp.restored, err = downloadSnapshot(ctx, storage.Join(lp.remote, snapshotName(newest)), lp.state); err != nil {
				return nil, fmt.Errorf("crawl state of %s: %w", partitionID(p), err)
			}
			lp.restored.Generation = newest
		}
	}
	// From here on the folder is about to differ from every snapshot.
	if err := os.Remove(lp.marker); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("crawl state: %w", err)
	}
	if err := removeUnlistedPairs(ctx, partDir, lp.restored.Files); err != nil {
		return nil, fmt.Errorf("crawl state of %s: %w", partitionID(p), err)
	}
	ok = true
	return lp, nil
}

// removeUnlistedPairs deletes the pair files of partDir that are not in keep: files committed
// by a lease whose state was lost with its worker (their pairs are pending again).
func removeUnlistedPairs(ctx context.Context, partDir string, keep []string) error {
	d, err := storage.Open(ctx, partDir)
	if err != nil {
		return err
	}
	entries, err := d.List(ctx, "")
	if err != nil {
		return err
	}
	for _, e := range entries {
		if _, isPairFile := shards.FileIndex(e.Name); isPairFile && !e.IsDir && !slices.Contains(keep, e.Name) {
			if err := d.Delete(ctx, e.Name); err != nil {
				return err
			}
		}
	}
	return nil
}

// save writes the state (crawl.Run has closed it) as the next generation, then deletes the older
// ones and records that the local folder equals the new snapshot.
func (lp *localPartition) save(ctx context.Context, partDir string) error {
	var files []string
	if d, err := storage.Open(ctx, partDir); err != nil {
		return err
	} else if entries, err := d.List(ctx, ""); err != nil {
		return err
	} else {
		for _, e := range entries {
			if _, ok := shards.FileIndex(e.Name); ok && !e.IsDir {
				files = append(files, e.Name)
			}
		}
	}
	snap := partitionSnapshot{Generation: lp.restored.Generation + 1, Files: files}
	gens, err := snapshotGenerations(ctx, lp.remote)
	if err != nil {
		return err
	}
	if len(gens) > 0 && gens[len(gens)-1] >= snap.Generation {
		return fmt.Errorf("crawl state %s: generation %d was saved by another holder during this lease", lp.remote, gens[len(gens)-1])
	}
	if err := uploadSnapshot(ctx, lp.state, storage.Join(lp.remote, snapshotName(snap.Generation)), snap); err != nil {
		return err
	}
	d, err := storage.Open(ctx, lp.remote)
	if err != nil {
		return err
	}
	for _, g := range gens {
		if err := d.Delete(ctx, snapshotName(g)); err != nil {
			return err
		}
	}
	data, _ := json.Marshal(&snap)
	if err := os.WriteFile(lp.marker, data, 0o644); err != nil {
		return fmt.Errorf("crawl state: %w", err)
	}
	lp.restored = snap
	return nil
}

// uploadSnapshot writes the files of dir and pairs.json as one tar object at loc.
func uploadSnapshot(ctx context.Context, dir, loc string, snap partitionSnapshot) error {
	d, err := storage.Open(ctx, storage.Parent(loc))
	if err != nil {
		return err
	}
	w, err := d.Create(ctx, storage.Base(loc))
	if err != nil {
		return err
	}
	defer w.Abort()
	tw := tar.NewWriter(w)
	err = filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || !e.Type().IsRegular() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Name: "state/" + filepath.ToSlash(rel), Mode: 0o644, Size: st.Size(), ModTime: st.ModTime()}); err != nil {
			return err
		}
		_, err = io.Copy(tw, f)
		return err
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("crawl state: snapshot %s: %w", dir, err)
	}
	list, _ := json.Marshal(&snap)
	if err := tw.WriteHeader(&tar.Header{Name: "pairs.json", Mode: 0o644, Size: int64(len(list)), ModTime: time.Now()}); err != nil {
		return err
	}
	if _, err := tw.Write(list); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("crawl state: snapshot: %w", err)
	}
	return w.Commit()
}

// downloadSnapshot extracts the tar object at loc into dir and returns its pairs.json.
func downloadSnapshot(ctx context.Context, loc, dir string) (partitionSnapshot, error) {
	var snap partitionSnapshot
	r, err := storage.OpenFile(ctx, loc)
	if err != nil {
		return snap, err
	}
	defer r.Close()
	tr := tar.NewReader(r)
	listed := false
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return snap, fmt.Errorf("snapshot %s: %w", loc, err)
		}
		if h.Name == "pairs.json" {
			data, err := io.ReadAll(tr)
			if err != nil {
				return snap, err
			}
			if err := json.Unmarshal(data, &snap); err != nil {
				return snap, fmt.Errorf("snapshot %s: pairs.json: %w", loc, err)
			}
			listed = true
			continue
		}
		rel, ok := strings.CutPrefix(h.Name, "state/")
		if !ok || h.Typeflag != tar.TypeReg || !fs.ValidPath(rel) {
			return snap, fmt.Errorf("snapshot %s: unexpected entry %q", loc, h.Name)
		}
		dst := filepath.Join(dir, filepath.FromSlash(path.Clean(rel)))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return snap, err
		}
		f, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
		if err != nil {
			return snap, err
		}
		_, err = io.Copy(f, tr)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return snap, fmt.Errorf("snapshot %s: %w", loc, err)
		}
	}
	if !listed {
		return snap, fmt.Errorf("snapshot %s: no pairs.json", loc)
	}
	return snap, nil
}

// lockFile takes an exclusive lock on path for this process (released when it dies).
func lockFile(path string) (func(), error) {
	unlock, err := atomicfile.Lock(path)
	if err != nil {
		return nil, fmt.Errorf("crawl state: %w", err)
	}
	return unlock, nil
}

// deferredAcks holds the inbox messages of a lease whose links are admitted in the local state
// but not yet in a saved snapshot: they are kept in progress and acked once the snapshot is
// saved (a holder that dies leaves them to be delivered again).
type deferredAcks struct {
	mu      sync.Mutex
	msgs    []jetstream.Msg
	stop    chan struct{}
	stopped sync.WaitGroup
}

func newDeferredAcks(every time.Duration) *deferredAcks {
	d := &deferredAcks{stop: make(chan struct{})}
	d.stopped.Add(1)
	go func() {
		defer d.stopped.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-d.stop:
				return
			case <-t.C:
				d.mu.Lock()
				msgs := slices.Clone(d.msgs)
				d.mu.Unlock()
				for _, m := range msgs {
					_ = m.InProgress() // a lost heartbeat only means a harmless second delivery
				}
			}
		}
	}()
	return d
}

func (d *deferredAcks) add(msgs []jetstream.Msg) {
	d.mu.Lock()
	d.msgs = append(d.msgs, msgs...)
	d.mu.Unlock()
}

// close stops the heartbeats.
func (d *deferredAcks) close() {
	select {
	case <-d.stop:
	default:
		close(d.stop)
	}
	d.stopped.Wait()
}

// ackAll acks every held message (after the snapshot holding their links is saved). A message
// whose ack fails is delivered again and its links dropped as admitted already, so the errors
// are only reported.
func (d *deferredAcks) ackAll(ctx context.Context) error {
	d.close()
	d.mu.Lock()
	defer d.mu.Unlock()
	var errs []error
	for _, m := range d.msgs {
		if err := m.DoubleAck(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	d.msgs = nil
	return errors.Join(errs...)
}
