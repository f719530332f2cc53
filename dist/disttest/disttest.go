// Package disttest runs a real queue for tests: an in-process NATS server on 127.0.0.1 and
// worker processes (the test binary re-executed, so a worker can be killed with SIGKILL like a
// real one). A test package that uses it calls WorkerMain first thing in its TestMain.
package disttest

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/witdata/wit/dist"
)

// Settings are short timings for tests: a dead worker's task is redelivered after a second.
var Settings = dist.Settings{AckWait: time.Second, MaxDeliver: 3, LeaseDeliver: 20, WorkerTTL: 2 * time.Second}

const (
	envURL         = "WIT_DISTTEST_WORKER"
	envConcurrency = "WIT_DISTTEST_CONCURRENCY"
	envDebug       = "WIT_DISTTEST_DEBUG"
)

func logger() *slog.Logger {
	level := slog.LevelWarn
	if os.Getenv(envDebug) != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// WorkerMain runs a worker and exits when the process was started as one by StartWorkers;
// otherwise it returns at once.
func WorkerMain() {
	url := os.Getenv(envURL)
	if url == "" {
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := logger()
	c, err := dist.Connect(ctx, url, Settings, log)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	conc, _ := strconv.Atoi(os.Getenv(envConcurrency))
	err = dist.RunWorker(ctx, c, dist.WorkerOptions{Concurrency: conc, Poll: 200 * time.Millisecond, RetryDelay: 50 * time.Millisecond, AllowPrivate: true, Logger: log})
	c.Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// FreePort returns a port free at the time of the call.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// StartServer starts a queue server on 127.0.0.1 (port 0: any) with its store in store; it is
// shut down when the test ends (after workers started later).
func StartServer(t testing.TB, store string, port int) *dist.Server {
	t.Helper()
	s, err := dist.StartServer(dist.ServerOptions{Listen: fmt.Sprintf("127.0.0.1:%d", port), StoreDir: store, Logger: logger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Shutdown)
	return s
}

// Connect connects to the queue with Settings.
func Connect(t testing.TB, url string) *dist.Conn {
	t.Helper()
	c, err := dist.Connect(context.Background(), url, Settings, logger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// Workers are worker processes, restarted when they exit (as a service manager would).
type Workers struct {
	mu   sync.Mutex
	cmds []*exec.Cmd
	stop chan struct{}
	wg   sync.WaitGroup
}

// StartWorkers starts n worker processes with concurrency slots each; they are stopped when
// the test ends.
func StartWorkers(t testing.TB, url string, n, concurrency int) *Workers {
	w := &Workers{cmds: make([]*exec.Cmd, n), stop: make(chan struct{})}
	for i := range n {
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			for {
				cmd := exec.Command(os.Args[0], "-test.run=^$")
				cmd.Env = append(os.Environ(), envURL+"="+url, envConcurrency+"="+strconv.Itoa(concurrency))
				cmd.Stderr = os.Stderr
				if err := cmd.Start(); err != nil {
					t.Error(err)
					return
				}
				w.mu.Lock()
				w.cmds[i] = cmd
				w.mu.Unlock()
				cmd.Wait()
				select {
				case <-w.stop:
					return
				case <-time.After(50 * time.Millisecond):
				}
			}
		}()
	}
	t.Cleanup(w.Close)
	return w
}

// Kill sends SIGKILL to worker i and returns its pid.
func (w *Workers) Kill(i int) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	if c := w.cmds[i]; c != nil && c.Process != nil {
		c.Process.Signal(syscall.SIGKILL)
		return c.Process.Pid
	}
	return 0
}

// Close stops the workers (SIGTERM) and waits for them.
func (w *Workers) Close() {
	select {
	case <-w.stop:
		return
	default:
	}
	close(w.stop)
	w.mu.Lock()
	for _, c := range w.cmds {
		if c != nil && c.Process != nil {
			c.Process.Signal(syscall.SIGTERM)
		}
	}
	w.mu.Unlock()
	w.wg.Wait()
}

// Wait waits for a job to complete and returns its progress; it fails the test after limit.
func Wait(t testing.TB, c *dist.Conn, id string, limit time.Duration) dist.Progress {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	p, err := c.Wait(ctx, id, 100*time.Millisecond, nil)
	if err != nil {
		if job, jerr := c.Job(context.Background(), id); jerr == nil {
			st, _ := c.Status(context.Background(), job)
			t.Fatalf("job %s not complete: %v (done %d, running %d, failed %d)", id, err, st.Done, st.Running, st.Failed)
		}
		t.Fatalf("job %s not complete: %v", id, err)
	}
	return p
}

// WaitOutcomes waits until at least n tasks of a job have an outcome.
func WaitOutcomes(t testing.TB, c *dist.Conn, id string, n int, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if p, err := c.JobProgress(context.Background(), id); err == nil && p.Outcomes >= n {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("job %s: fewer than %d outcomes after %s", id, n, limit)
}
