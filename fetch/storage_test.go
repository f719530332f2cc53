package fetch

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/witdata/wit/internal/storage"
	"github.com/witdata/wit/internal/storage/s3test"
	"github.com/witdata/wit/shards"
)

// outputName is every name a fetch output may hold; anything else is a stray object.
var outputName = regexp.MustCompile(`^(\d{5}\.arrow|\d{5}_stats\.json|\d{5}_failed\.jsonl|manifest\.json|sizes\.json|stats\.json|fetch\.json)$`)

func assertOnlyOutputs(t *testing.T, out string) {
	t.Helper()
	d, err := storage.Open(context.Background(), out)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := d.List(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir || !outputName.MatchString(e.Name) {
			t.Errorf("stray object %s in %s", e.Name, out)
		}
	}
}

// TestObjectStorageCancelAndResume is TestCancelAndResume with the output in the in-process S3
// server: the cancelled run leaves only complete objects, the resumed one stores every item
// exactly once.
func TestObjectStorageCancelAndResume(t *testing.T) {
	_, bucket := s3test.Start(t, "wit")
	out := storage.Join(bucket, "shards")
	srv := newImageServer(t)
	srv.slow.Store(int64(5 * time.Millisecond))
	items := manyItems(srv.URL, "slow", 120)
	items[17].URL = srv.URL + "/404"
	cfg := testConfig(t, out)
	cfg.Workers, cfg.PerHost = 4, 4
	ctx, cancel := context.WithCancel(context.Background())
	srv.setOnRequest(func(string) {
		if srv.requests.Load() == 50 {
			cancel()
		}
	})
	st1, err := Run(ctx, cfg, Items(items))
	if !errors.Is(err, context.Canceled) || !st1.Interrupted {
		t.Fatalf("first run: err %v, stats %+v", err, st1)
	}
	assertOnlyOutputs(t, out)
	first := readSamples(t, out)
	if len(first) == 0 || len(first) >= 119 {
		t.Fatalf("first run stored %d samples; want a part", len(first))
	}
	srv.setOnRequest(nil)
	st2, err := Run(context.Background(), cfg, Items(items))
	if err != nil {
		t.Fatal(err)
	}
	if st2.Skipped != st1.Done {
		t.Errorf("second run skipped %d, first run did %d", st2.Skipped, st1.Done)
	}
	if all := readSamples(t, out); len(all) != 119 {
		t.Fatalf("stored %d samples, want 119", len(all))
	}
	assertOnlyOutputs(t, out)
	m, err := shards.ReadManifest(out)
	if err != nil || m.TotalCount != 119 {
		t.Fatalf("manifest %+v, %v", m, err)
	}
	rep, err := shards.Verify(context.Background(), out, shards.VerifyOptions{})
	if err != nil || !rep.OK() {
		t.Fatalf("verify: %v %+v", err, rep)
	}
	// The retry path reads failed lists from the bucket too.
	cfg.RetryFailed = true
	st3, err := Run(context.Background(), cfg, nil)
	if err != nil || st3.Done != 1 || st3.Failures[ReasonNotFound] != 1 {
		t.Fatalf("retry run: %v %+v", err, st3)
	}
}

// Environment of the child process of TestObjectStorageKill.
const (
	envKillChild = "WIT_TEST_FETCH_CHILD_OUT"
	envKillImg   = "WIT_TEST_FETCH_CHILD_IMG"
	envKillItems = "WIT_TEST_FETCH_CHILD_ITEMS"
)

// TestObjectStorageKillChild is the process TestObjectStorageKill kills: a fetch into the
// bucket that would run for seconds.
func TestObjectStorageKillChild(t *testing.T) {
	out := os.Getenv(envKillChild)
	if out == "" {
		t.Skip("child process of TestObjectStorageKill")
	}
	n, _ := strconv.Atoi(os.Getenv(envKillItems))
	cfg := testConfig(t, out)
	cfg.Workers, cfg.PerHost = 4, 4
	Run(context.Background(), cfg, Items(manyItems(os.Getenv(envKillImg), "slow", n)))
}

// TestObjectStorageKill kills (SIGKILL) a fetch writing to the in-process S3 server once some
// shards are in, then resumes it: no half or temporary object is left, and every item is stored
// exactly once.
func TestObjectStorageKill(t *testing.T) {
	if testing.Short() {
		t.Skip("subprocess")
	}
	_, bucket := s3test.Start(t, "wit") // also sets the AWS environment the child inherits
	out := storage.Join(bucket, "killed")
	srv := newImageServer(t)
	srv.slow.Store(int64(10 * time.Millisecond))
	const n = 400
	cmd := exec.Command(os.Args[0], "-test.run=^TestObjectStorageKillChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), envKillChild+"="+out, envKillImg+"="+srv.URL, envKillItems+"="+strconv.Itoa(n))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d, _ := storage.Open(context.Background(), out)
	deadline := time.Now().Add(30 * time.Second)
	for {
		files, _ := d.List(context.Background(), "")
		arrows := 0
		for _, f := range files {
			if _, ok := shards.FileIndex(f.Name); ok {
				arrows++
			}
		}
		if arrows >= 3 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("the child wrote no shards")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	assertOnlyOutputs(t, out)
	killed := readSamples(t, out)
	if len(killed) == 0 || len(killed) >= n {
		t.Fatalf("killed run stored %d samples; want a part", len(killed))
	}
	cfg := testConfig(t, out)
	cfg.Workers, cfg.PerHost = 8, 8
	srv.slow.Store(0)
	st, err := Run(context.Background(), cfg, Items(manyItems(srv.URL, "slow", n)))
	if err != nil {
		t.Fatal(err)
	}
	all := readSamples(t, out) // fails on a duplicate key or URL
	if len(all) != n || st.DatasetCount != n {
		t.Fatalf("after resume: %d samples stored (dataset %d), want %d", len(all), st.DatasetCount, n)
	}
	if st.Skipped < int64(len(killed)) {
		t.Errorf("resume skipped %d items, the killed run had stored %d", st.Skipped, len(killed))
	}
	assertOnlyOutputs(t, out)
	t.Logf("killed after %d samples; resume skipped %d, fetched %d", len(killed), st.Skipped, st.Done)
}
