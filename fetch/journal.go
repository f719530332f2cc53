package fetch

import (
	"bufio"
	"errors"
	"fmt"
	"iter"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/witdata/wit/internal/atomicfile"
)

// The processing journal keeps a poison image from wedging a directory. Decoding runs in this
// process, and some failures cannot be recovered from (the Go runtime's fatal errors: out of
// memory, stack overflow; or the kernel's OOM killer): the process dies, the shard in progress
// is lost, and a plain resume would die on the same item again, forever.
//
// So before an item is decoded, its input position is appended to .fetch.processing ("s SEQ
// ISO"), and "e SEQ" after. A plain write(2) is enough: the page cache survives the death of the
// process (not a power cut, after which an item may be tried once more). On startup, items
// started and never ended were in progress when the process died:
//
//   - one that was decoded alone (ISO = 1: ProcessWorkers is 1, or it was a suspect) caused the
//     crash: it is recorded as failed with reason "crashed" without being downloaded again;
//   - the others are suspects: the poison is among them, but so may be innocent neighbours. A
//     suspect is decoded alone, with every other decode held back, so a second crash names it.
//
// Each crash thus either names its item or narrows the suspects to one per run, and every other
// item completes. The journal is compacted on startup (what the ledger records as done is
// dropped) and whenever it grows past journalCompactBytes.

const (
	journalFile         = ".fetch.processing"
	journalCompactBytes = 1 << 20
)

type journal struct {
	path string

	mu       sync.Mutex
	f        *os.File
	size     int64
	open     map[int64]bool // started, not ended: seq → decoded alone
	suspects map[int64]bool // in progress with others at a crash, not decoded since
	crashed  map[int64]bool // to be recorded as crashed (kept until the ledger has them)
	emitted  map[int64]bool // crashed items handed to the writer in this run
}

// openJournal reads dir's journal, drops what done records, and starts a compacted one. It
// returns the items to fail as crashed and those to decode alone.
func openJournal(dir string, done *bitset) (*journal, error) {
	j := &journal{path: filepath.Join(dir, journalFile), open: map[int64]bool{},
		suspects: map[int64]bool{}, crashed: map[int64]bool{}, emitted: map[int64]bool{}}
	if err := j.read(); err != nil {
		return nil, err
	}
	for seq, alone := range j.open {
		if alone {
			j.crashed[seq] = true
		} else {
			j.suspects[seq] = true
		}
	}
	clear(j.open)
	for _, m := range []map[int64]bool{j.crashed, j.suspects} {
		for seq := range m {
			if done.has(seq) {
				delete(m, seq)
			}
		}
	}
	for seq := range j.crashed {
		delete(j.suspects, seq)
	}
	if err := j.compact(); err != nil {
		return nil, err
	}
	return j, nil
}

// read replays the journal. A torn last line (the process died inside a write) is ignored.
func (j *journal) read() error {
	f, err := os.Open(j.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("fetch: journal: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		seq, err := strconv.ParseInt(fields[1], 10, 64)
		if err != nil || seq < 0 {
			continue
		}
		switch fields[0] {
		case "s":
			j.open[seq] = len(fields) > 2 && fields[2] == "1"
		case "e":
			delete(j.open, seq)
			delete(j.suspects, seq)
		case "x":
			j.suspects[seq] = true
		case "c":
			j.crashed[seq] = true
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("fetch: journal %s: %w", j.path, err)
	}
	return nil
}

// compact rewrites the journal with what is still pending and reopens it for appending. j.mu is
// held (or j is not shared yet).
func (j *journal) compact() error {
	var b strings.Builder
	for _, seq := range slices.Sorted(maps.Keys(j.crashed)) {
		fmt.Fprintf(&b, "c %d\n", seq)
	}
	for _, seq := range slices.Sorted(maps.Keys(j.suspects)) {
		fmt.Fprintf(&b, "x %d\n", seq)
	}
	for _, seq := range slices.Sorted(maps.Keys(j.open)) {
		fmt.Fprintf(&b, "s %d %s\n", seq, isoFlag(j.open[seq]))
	}
	if j.f != nil {
		j.f.Close()
		j.f = nil
	}
	if err := atomicfile.WriteFile(j.path, []byte(b.String())); err != nil {
		return fmt.Errorf("fetch: journal: %w", err)
	}
	f, err := os.OpenFile(j.path, os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("fetch: journal: %w", err)
	}
	j.f, j.size = f, int64(b.Len())
	return nil
}

func isoFlag(alone bool) string {
	if alone {
		return "1"
	}
	return "0"
}

// append writes one line in one write(2), so a line is either whole or the torn last one.
func (j *journal) append(line string) error {
	n, err := j.f.WriteString(line)
	j.size += int64(n)
	if err != nil {
		return fmt.Errorf("fetch: journal: %w", err)
	}
	if j.size > journalCompactBytes {
		return j.compact()
	}
	return nil
}

// start records that seq is about to be decoded (alone: with no other decode running).
func (j *journal) start(seq int64, alone bool) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.open[seq] = alone
	return j.append("s " + strconv.FormatInt(seq, 10) + " " + isoFlag(alone) + "\n")
}

// end records that decoding seq returned.
func (j *journal) end(seq int64) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	delete(j.open, seq)
	delete(j.suspects, seq)
	return j.append("e " + strconv.FormatInt(seq, 10) + "\n")
}

// isCrashed and isSuspect classify a job before it is scheduled.
func (j *journal) isCrashed(seq int64) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.crashed[seq]
}

func (j *journal) isSuspect(seq int64) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.suspects[seq]
}

// recorded notes that crashed item seq went to the writer as a failure.
func (j *journal) recorded(seq int64) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.emitted[seq] = true
}

// close compacts what is still pending (suspects not reached; crashed items, unless committed
// says the writer committed everything it was given) and removes the journal when nothing is.
func (j *journal) close(committed bool) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if committed {
		for seq := range j.emitted {
			delete(j.crashed, seq)
		}
	}
	if err := j.compact(); err != nil {
		return err
	}
	if j.size > 0 {
		return j.f.Close()
	}
	j.f.Close()
	if err := os.Remove(j.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("fetch: journal: %w", err)
	}
	return nil
}

// annotate marks the jobs of feed the journal knows about.
func (j *journal) annotate(feed iter.Seq2[job, error]) iter.Seq2[job, error] {
	return func(yield func(job, error) bool) {
		for jb, err := range feed {
			if err == nil {
				jb.crashed = jb.crashed || j.isCrashed(jb.seq)
				jb.alone = jb.alone || j.isSuspect(jb.seq)
			}
			if !yield(jb, err) {
				return
			}
		}
	}
}
