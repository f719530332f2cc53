// Package disttest runs a real queue for tests: an in-process NATS server on 127.0.0.1 and
// worker processes that can be killed with SIGKILL like real ones.
//
// StartWorkers runs the real wit binary ("wit worker"), built once per test process by
// WitBinary, with the short test timings of Settings as its flags: what the tests exercise is
// what users run. StartTestWorkers re-executes the test binary instead, for tests whose task
// kinds only the test binary registers (package dist's test.write). A test package that uses
// either calls Main (or WorkerMain, then m.Run) from its TestMain.
package disttest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/witdata/wit/dist"
)

// Settings are short timings for tests: a dead worker's task is redelivered after a second.
var Settings = dist.Settings{AckWait: time.Second, MaxDeliver: 3, LeaseDeliver: 20, WorkerTTL: 2 * time.Second}

// The workers' own timings: an idle slot polls every 200 ms, a failed task is retried after
// 50 ms (doubling).
const (
	workerPoll       = 200 * time.Millisecond
	workerRetryDelay = 50 * time.Millisecond
)

const (
	envURL         = "WIT_DISTTEST_WORKER"
	envCPUProfile  = "WIT_DISTTEST_WORKER_CPUPROFILE" // a worker started by StartTestWorkers writes its CPU profile to this path + "." + pid
	envMemProfile  = "WIT_DISTTEST_WORKER_MEMPROFILE" // ... and its allocations (heap profile) when it stops
	envConcurrency = "WIT_DISTTEST_CONCURRENCY"
	// envDebug set (to anything) makes servers and workers log at debug level; they log
	// warnings and errors only otherwise.
	envDebug = "WIT_DISTTEST_DEBUG"
)

func logLevel() slog.Level {
	if os.Getenv(envDebug) != "" {
		return slog.LevelDebug
	}
	return slog.LevelWarn
}

func logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: logLevel()}))
}

// Main runs a test package's tests (m.Run) and removes the wit binary built for them; a
// process started by StartTestWorkers runs its worker instead and exits. Call it from
// TestMain: os.Exit(disttest.Main(m)).
func Main(m *testing.M) int {
	WorkerMain()
	code := m.Run()
	witBuild.mu.Lock()
	if witBuild.dir != "" {
		os.RemoveAll(witBuild.dir)
	}
	witBuild.mu.Unlock()
	return code
}

// WorkerMain runs a worker and exits when the process was started as one by StartTestWorkers;
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
	if path := os.Getenv(envCPUProfile); path != "" {
		// Profiles the worker side of a test (TestQueueOverhead): one file per worker process.
		if f, err := os.Create(fmt.Sprintf("%s.%d", path, os.Getpid())); err == nil && pprof.StartCPUProfile(f) == nil {
			defer f.Close()
		}
	}
	err = dist.RunWorker(ctx, c, dist.WorkerOptions{Concurrency: conc, Poll: workerPoll, RetryDelay: workerRetryDelay, AllowPrivate: true, Logger: log})
	pprof.StopCPUProfile()
	if path := os.Getenv(envMemProfile); path != "" {
		if f, err := os.Create(fmt.Sprintf("%s.%d", path, os.Getpid())); err == nil {
			_ = pprof.Lookup("allocs").WriteTo(f, 0)
			f.Close()
		}
	}
	c.Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// witBuild is the wit binary built for this test process.
var witBuild struct {
	mu   sync.Mutex
	dir  string // removed by Main
	path string
	err  error
}

// WitBinary builds the wit command (github.com/witdata/wit/cmd/wit) once per test process and
// returns its path; the test fails if it cannot be built. The packages come from the build
// cache the test's own compilation filled, so only the link takes time (without symbol tables:
// a worker needs none).
func WitBinary(t testing.TB) string {
	t.Helper()
	witBuild.mu.Lock()
	defer witBuild.mu.Unlock()
	if witBuild.path == "" && witBuild.err == nil {
		witBuild.path, witBuild.err = buildWit()
	}
	if witBuild.err != nil {
		t.Fatalf("disttest: the worker processes run the wit binary: %v", witBuild.err)
	}
	return witBuild.path
}

func buildWit() (string, error) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
		if _, serr := os.Stat(goTool); serr != nil {
			return "", fmt.Errorf("no go command to build it with (not in PATH: %v; not in GOROOT: %v)", err, serr)
		}
	}
	dir, err := os.MkdirTemp("", "disttest-wit-")
	if err != nil {
		return "", err
	}
	witBuild.dir = dir
	path := filepath.Join(dir, "wit")
	start := time.Now()
	cmd := exec.Command(goTool, "build", "-ldflags=-s -w", "-o", path, "github.com/witdata/wit/cmd/wit")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("%s build github.com/witdata/wit/cmd/wit: %w\n%s", goTool, err, out)
	}
	if os.Getenv(envDebug) != "" {
		fmt.Fprintf(os.Stderr, "disttest: built %s in %s\n", path, time.Since(start).Round(time.Millisecond))
	}
	return path, nil
}

// workerArgs are the wit command line of a worker: the test timings as flags, private
// addresses allowed (the test servers are on 127.0.0.1).
func workerArgs(url string, concurrency int) []string {
	level := "warn"
	if os.Getenv(envDebug) != "" {
		level = "debug"
	}
	return []string{"--log-level", level, "worker", "--queue", url,
		"--concurrency", strconv.Itoa(concurrency), "--allow-private",
		"--poll", workerPoll.String(), "--retry-delay", workerRetryDelay.String(),
		"--ack-wait", Settings.AckWait.String(), "--max-deliver", strconv.Itoa(Settings.MaxDeliver),
		"--lease-deliver", strconv.Itoa(Settings.LeaseDeliver), "--worker-ttl", Settings.WorkerTTL.String()}
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

// StartWorkers starts n "wit worker" processes (the real binary, see WitBinary) with
// concurrency slots each; they are stopped when the test ends.
func StartWorkers(t testing.TB, url string, n, concurrency int) *Workers {
	t.Helper()
	wit := WitBinary(t)
	return startWorkers(t, n, func() *exec.Cmd { return exec.Command(wit, workerArgs(url, concurrency)...) })
}

// StartTestWorkers starts n worker processes that are the test binary re-executed (its
// TestMain calls Main or WorkerMain), for task kinds registered only by the test binary.
func StartTestWorkers(t testing.TB, url string, n, concurrency int) *Workers {
	t.Helper()
	return startWorkers(t, n, func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), envURL+"="+url, envConcurrency+"="+strconv.Itoa(concurrency))
		return cmd
	})
}

func startWorkers(t testing.TB, n int, command func() *exec.Cmd) *Workers {
	w := &Workers{cmds: make([]*exec.Cmd, n), stop: make(chan struct{})}
	for i := range n {
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			for {
				cmd := command()
				cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
				w.mu.Lock()
				select {
				case <-w.stop:
					w.mu.Unlock()
					return
				default:
				}
				err := cmd.Start()
				if err == nil {
					w.cmds[i] = cmd
				}
				w.mu.Unlock()
				if err != nil {
					t.Errorf("disttest: start worker: %v", err)
					return
				}
				if err := cmd.Wait(); err != nil && !isSignal(err) {
					t.Logf("disttest: worker %d (pid %d) exited: %v; restarting it", i, cmd.Process.Pid, err)
				}
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

// isSignal reports an exit caused by a signal (the tests' kill -9, Close's SIGTERM).
func isSignal(err error) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled()
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

// PID returns worker i's process ID (0 before it started).
func (w *Workers) PID(i int) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	if c := w.cmds[i]; c != nil && c.Process != nil {
		return c.Process.Pid
	}
	return 0
}

// Close stops the workers (SIGTERM) and waits for them.
func (w *Workers) Close() {
	w.mu.Lock()
	select {
	case <-w.stop:
		w.mu.Unlock()
		return
	default:
	}
	close(w.stop)
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
