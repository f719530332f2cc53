package fetch

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/witdata/wit/imgproc"
)

var poisonMark = []byte("WIT-POISON")

// poisonJPEG is a valid JPEG carrying poisonMark in a comment: the test hook crashes on it.
func poisonJPEG() []byte {
	jpg := testJPEG(99, 40, 30)
	seg := append([]byte{0xFF, 0xFE, 0, byte(2 + len(poisonMark))}, poisonMark...)
	return append(append(append([]byte{}, jpg[:2]...), seg...), jpg[2:]...)
}

// crashItems is 24 good items, the poison, and 6 more.
func crashItems(base string) []Item {
	items := manyItems(base, "img", 30)
	return append(items[:24], append([]Item{{URL: base + "/real/poison"}}, items[24:]...)...)
}

// crashHard kills the process the way a runaway decoder does: a fatal runtime error that no
// recover sees (like "runtime: out of memory").
func crashHard() {
	debug.SetMaxStack(1 << 16)
	var deep func(n int) int
	deep = func(n int) int {
		var pad [512]byte
		pad[n%512] = byte(n)
		return deep(n+1) + int(pad[(n*7)%512])
	}
	deep(0)
}

// TestCrashingChild is the child process of TestCrashingItemFailsOnResume: a fetch whose decoder
// dies on the poison image.
func TestCrashingChild(t *testing.T) {
	out, base := os.Getenv("WIT_FETCH_CRASH_OUT"), os.Getenv("WIT_FETCH_CRASH_BASE")
	if out == "" {
		t.Skip("child of TestCrashingItemFailsOnResume")
	}
	workers, _ := strconv.Atoi(os.Getenv("WIT_FETCH_CRASH_WORKERS"))
	processImage = func(data []byte, opts imgproc.Options) (*imgproc.Result, error) {
		if bytes.Contains(data, poisonMark) {
			crashHard()
		}
		time.Sleep(10 * time.Millisecond) // keeps neighbours in progress when the poison hits
		return imgproc.Process(data, opts)
	}
	cfg := testConfig(t, out)
	cfg.ProcessWorkers, cfg.SamplesPerShard = workers, 10
	Run(context.Background(), cfg, Items(crashItems(base)))
	t.Fatal("the poison did not crash the run")
}

// TestCrashingItemFailsOnResume: an image whose decoding kills the process is failed as crashed
// on resume instead of killing every resume; the items around it, including those decoded at the
// same time, end up in the shards, and nothing is written twice.
func TestCrashingItemFailsOnResume(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns child processes")
	}
	srv := newImageServer(t)
	srv.files["poison"] = poisonJPEG()
	items := crashItems(srv.URL)
	for _, tc := range []struct {
		workers int
		crashes int // runs that die before the poison is named
	}{
		{1, 1}, // decoded alone: the first crash names it
		{4, 2}, // decoded with others: they are suspects, decoded alone in the next run
	} {
		out := t.TempDir()
		for run := range tc.crashes {
			cmd := exec.Command(os.Args[0], "-test.run=^TestCrashingChild$", "-test.count=1")
			cmd.Env = append(os.Environ(), "WIT_FETCH_CRASH_OUT="+out, "WIT_FETCH_CRASH_BASE="+srv.URL,
				"WIT_FETCH_CRASH_WORKERS="+strconv.Itoa(tc.workers))
			stderr, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || !strings.Contains(string(stderr), "stack overflow") {
				t.Fatalf("workers %d run %d: child did not crash: %v\n%s", tc.workers, run, err, stderr)
			}
		}
		committed := len(readSamples(t, out)) // readable, whole shards only
		journal, _ := os.ReadFile(filepath.Join(out, journalFile))
		if !bytes.Contains(journal, []byte("s 24 1\n")) {
			t.Fatalf("workers %d: the journal does not show the poison (24) decoded alone:\n%s", tc.workers, journal)
		}

		// Resume in this process with a decoder that must never see the poison again.
		processImage = func(data []byte, opts imgproc.Options) (*imgproc.Result, error) {
			if bytes.Contains(data, poisonMark) {
				t.Errorf("workers %d: the poison was decoded again", tc.workers)
				return nil, errors.New("poison")
			}
			return imgproc.Process(data, opts)
		}
		cfg := testConfig(t, out)
		cfg.ProcessWorkers, cfg.SamplesPerShard = tc.workers, 10
		st, err := Run(context.Background(), cfg, Items(items))
		processImage = imgproc.Process
		if err != nil {
			t.Fatal(err)
		}
		if st.Failures[ReasonCrashed] != 1 || st.Failed != 1 || st.Skipped != int64(committed) || st.Skipped+st.Done != int64(len(items)) {
			t.Errorf("workers %d: resume %+v after %d committed", tc.workers, st, committed)
		}
		if f := readFailures(t, out); f[srv.URL+"/real/poison"] != ReasonCrashed || len(f) != 1 {
			t.Errorf("workers %d: failures %v", tc.workers, f)
		}
		if n := len(readSamples(t, out)); n != len(items)-1 {
			t.Errorf("workers %d: %d samples, want %d", tc.workers, n, len(items)-1)
		}
		if _, err := os.Stat(filepath.Join(out, journalFile)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("workers %d: journal left after a clean run (%v)", tc.workers, err)
		}
		// Again: everything is done, nothing is tried.
		st, err = Run(context.Background(), cfg, Items(items))
		if err != nil || st.Done != 0 || st.Skipped != int64(len(items)) {
			t.Errorf("workers %d: second resume %+v %v", tc.workers, st, err)
		}
	}
}

// TestPanickingDecodeFailsItem: a panic in processing (imgproc recovers its decoders', not its
// own) fails that item as crashed; the run goes on.
func TestPanickingDecodeFailsItem(t *testing.T) {
	srv := newImageServer(t)
	srv.files["poison"] = poisonJPEG()
	processImage = func(data []byte, opts imgproc.Options) (*imgproc.Result, error) {
		if bytes.Contains(data, poisonMark) {
			var m map[string]int
			m["boom"]++ // nil map write: a plain panic
		}
		return imgproc.Process(data, opts)
	}
	defer func() { processImage = imgproc.Process }()
	out := t.TempDir()
	st, err := Run(context.Background(), testConfig(t, out), Items(crashItems(srv.URL)))
	if err != nil || st.Failures[ReasonCrashed] != 1 || st.Successes != 30 {
		t.Fatalf("%v %+v", err, st)
	}
}

// TestJournalReplay: what a journal left by a dead run means.
func TestJournalReplay(t *testing.T) {
	tests := []struct {
		name              string
		journal           string
		done              []int64
		crashed, suspects []int64
	}{
		{"clean", "s 1 0\ne 1\ns 2 1\ne 2\n", nil, nil, nil},
		{"alone in progress", "s 1 1\ne 1\ns 2 1\n", nil, []int64{2}, nil},
		{"with others", "s 3 0\ns 4 0\ns 5 0\ne 4\n", nil, nil, []int64{3, 5}},
		{"suspect cleared", "x 3\nx 5\ns 3 1\ne 3\n", nil, nil, []int64{5}},
		{"suspect names itself", "x 3\nx 5\ns 3 1\n", nil, []int64{3}, []int64{5}},
		{"crashed kept until done", "c 7\nc 8\n", []int64{8}, []int64{7}, nil},
		{"torn last line", "s 1 0\ne 1\ns 2 1\ne", nil, []int64{2}, nil},
		{"garbage ignored", "hello\ns x 1\ne -4\n", nil, nil, nil},
	}
	for _, tc := range tests {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, journalFile), []byte(tc.journal), 0o644)
		var done bitset
		for _, s := range tc.done {
			done.set(s)
		}
		j, err := openJournal(dir, &done)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			got  map[int64]bool
			want []int64
			what string
		}{{j.crashed, tc.crashed, "crashed"}, {j.suspects, tc.suspects, "suspects"}} {
			if len(c.got) != len(c.want) {
				t.Errorf("%s: %s %v, want %v", tc.name, c.what, c.got, c.want)
			}
			for _, s := range c.want {
				if !c.got[s] {
					t.Errorf("%s: %s %v, want %v", tc.name, c.what, c.got, c.want)
				}
			}
		}
		// The compacted journal means the same.
		j.close(false)
		j2, err := openJournal(dir, &done)
		if err != nil || len(j2.crashed) != len(tc.crashed) || len(j2.suspects) != len(tc.suspects) {
			t.Errorf("%s: after compaction %v %v %v", tc.name, j2.crashed, j2.suspects, err)
		}
		j2.close(false)
	}
}
