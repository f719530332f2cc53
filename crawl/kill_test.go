package crawl

import (
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestKill9Resume kills a crawling process with SIGKILL mid-crawl (a subprocess running this
// test binary), then resumes in-process: every pair is in the files exactly once, and only the
// pages in flight or just completed at the kill are fetched twice.
func TestKill9Resume(t *testing.T) {
	if testing.Short() {
		t.Skip("subprocess crawl")
	}
	const n = 400
	s := newSite(n)
	srv := httptest.NewServer(s)
	defer srv.Close()
	cfg := testConfig(t, srv.URL+"/p/0")
	cfg.RowsPerFile = 50

	killed := make(chan struct{})
	cmd := exec.Command(os.Args[0], "-test.run=^TestKill9Child$")
	cmd.Env = append(os.Environ(), "WIT_KILL_CHILD=1", "WIT_KILL_SEEDS="+cfg.Seeds, "WIT_KILL_OUT="+cfg.Out, "WIT_KILL_STATE="+cfg.State)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	proc := cmd.Process
	var once sync.Once
	s.setOnHit(func(total int) {
		if total >= 200 {
			once.Do(func() {
				proc.Signal(syscall.SIGKILL)
				close(killed)
			})
		}
	})
	select {
	case <-killed:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatal("child never reached 200 pages")
	}
	cmd.Wait()
	s.setOnHit(nil)
	files, _ := filepath.Glob(filepath.Join(cfg.Out, "*.arrow"))
	t.Logf("killed after 200 requests; %d committed files", len(files))

	stats, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	got := pairSet(readPairs(t, cfg.Out), srv.URL) // fails on a pair written twice
	if len(got) != 2*n || stats.PagesOK < n {
		t.Fatalf("after resume: %d pairs, %d pages ok; want %d pairs", len(got), stats.PagesOK, 2*n)
	}
	refetched := 0
	s.mu.Lock()
	for p, h := range s.hits {
		if strings.HasPrefix(p, "/p/") && h > 1 {
			refetched++
		}
	}
	s.mu.Unlock()
	// In flight (Workers) plus completions pebble had not yet written to its log; how many of
	// those depends on scheduling, so only a wholesale refetch fails the test.
	if refetched > 100 {
		t.Fatalf("%d of the 200 pages fetched before the kill were fetched again", refetched)
	}
	t.Logf("pages fetched again after kill -9: %d", refetched)
}

// TestKill9Child is the subprocess of TestKill9Resume.
func TestKill9Child(t *testing.T) {
	if os.Getenv("WIT_KILL_CHILD") == "" {
		t.Skip("subprocess of TestKill9Resume")
	}
	cfg := testConfig(t, "unused")
	cfg.Seeds, cfg.Out, cfg.State = os.Getenv("WIT_KILL_SEEDS"), os.Getenv("WIT_KILL_OUT"), os.Getenv("WIT_KILL_STATE")
	cfg.RowsPerFile = 50
	Run(context.Background(), cfg)
	time.Sleep(time.Minute) // never exit on its own before the kill
}
