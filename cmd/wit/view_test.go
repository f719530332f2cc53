package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is written by the command's goroutine and read by the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestViewCommandServesUntilCancelled(t *testing.T) {
	dir := writeCLIShards(t)
	cmd := newViewCmd()
	var out lockedBuffer
	cmd.SetOut(&out)
	cmd.SetErr(io.Discard)
	cmd.SetArgs([]string{dir, "--listen", "127.0.0.1:0", "--quiet"})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()

	url := regexp.MustCompile(`http://127\.0\.0\.1:\d+/`)
	deadline := time.Now().Add(20 * time.Second)
	for url.FindString(out.String()) == "" {
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("no URL printed: %q", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	res, err := http.Get(url.FindString(out.String()) + "status")
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Rows int64  `json:"rows"`
		Kind string `json:"kind"`
	}
	err = json.NewDecoder(res.Body).Decode(&st)
	res.Body.Close()
	if err != nil || st.Rows != 5 || st.Kind != "samples" || !strings.Contains(out.String(), "(5 rows)") {
		t.Errorf("status %+v %v; printed %q", st, err, out.String())
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("view after cancel: %v", err)
	}
}

func TestViewCommandErrors(t *testing.T) {
	for _, args := range [][]string{
		{t.TempDir()},                         // no shard files
		{writeCLIShards(t), "--listen", "no"}, // bad address
		{},                                    // no folder
	} {
		cmd := newViewCmd()
		cmd.SetOut(io.Discard)
		cmd.SetErr(io.Discard)
		cmd.SetArgs(append(args, "--quiet"))
		if err := cmd.ExecuteContext(context.Background()); err == nil {
			t.Errorf("wit view %v: no error", args)
		}
	}
}
