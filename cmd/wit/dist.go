package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/witdata/wit/dist"
	"github.com/witdata/wit/dist/stages" // also registers the task kinds workers run
	"github.com/witdata/wit/fetch"
)

func init() {
	rootCmd.AddCommand(newQueueCmd(), newWorkerCmd(), newJobsCmd(), newSubmitCmd())
}

// queueFlags are the flags every queue client takes.
type queueFlags struct {
	url      string
	settings dist.Settings
}

func (q *queueFlags) add(cmd *cobra.Command) {
	d := dist.DefaultSettings()
	f := cmd.Flags()
	f.StringVar(&q.url, "queue", os.Getenv("WIT_QUEUE"), "queue URL(s), comma-separated: nats://[user:pass@|token@]host:4222 or tls://...; ?creds=FILE, ?nkey=FILE, ?ca=FILE (default $WIT_QUEUE)")
	f.DurationVar(&q.settings.AckWait, "ack-wait", d.AckWait, "a task whose worker sends no heartbeat for this long is given to another worker (changes the queue's setting; default: the queue's, 30s for a new one)")
	f.IntVar(&q.settings.MaxDeliver, "max-deliver", d.MaxDeliver, "deliveries of a task before it is recorded as failed (changes the queue's setting; default: the queue's, 5 for a new one)")
	f.IntVar(&q.settings.LeaseDeliver, "lease-deliver", d.LeaseDeliver, "advanced: deliveries of a lease task (a crawl partition, handed over whenever its worker dies) before it is recorded as failed (changes the queue's setting; default: the queue's, 50 for a new one)")
	prev := cmd.PreRunE
	cmd.PreRunE = func(cmd *cobra.Command, args []string) error {
		q.applyIfSet(cmd)
		if prev != nil {
			return prev(cmd, args)
		}
		return nil
	}
}

func (q *queueFlags) connect(ctx context.Context) (*dist.Conn, error) {
	if q.url == "" {
		return nil, errors.New("--queue is required (or set WIT_QUEUE)")
	}
	return dist.Connect(ctx, q.url, q.settings, slog.Default())
}

// applyIfSet makes the connection change the queue's ack wait and delivery limits when the
// flags were given (otherwise the queue's own are used).
func (q *queueFlags) applyIfSet(cmd *cobra.Command) {
	q.settings.Apply = cmd.Flags().Changed("ack-wait") || cmd.Flags().Changed("max-deliver") || cmd.Flags().Changed("lease-deliver")
}

func newQueueCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "queue",
		Short: "Run the job queue (an embedded NATS server with JetStream)",
	}
	var o dist.ServerOptions
	serve := &cobra.Command{
		Use:   "serve --listen HOST:PORT --store DIR",
		Short: "Run the queue server that workers and submitters connect to",
		Long: `Run an embedded NATS server with JetStream, storing streams, consumers and buckets in --store
(a file store: stop and start the server on the same store and every job continues). Workers
and submitters connect with --queue nats://HOST:PORT. Any NATS 2.10+ server with JetStream
enabled works instead.

Three servers started with --cluster-listen and --routes naming each other form a cluster;
give clients all three URLs, comma-separated.`,
		Example: `  wit queue serve --listen 0.0.0.0:4222 --store /var/lib/wit-queue
  wit queue serve --listen 0.0.0.0:4222 --store /var/lib/wit-queue --token s3cret   # clients: nats://s3cret@host:4222
  wit queue serve --listen 0.0.0.0:4222 --store st --cluster-listen 0.0.0.0:6222 --routes nats-route://b:6222,nats-route://c:6222`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Logger = slog.Default()
			s, err := dist.StartServer(o)
			if err != nil {
				return err
			}
			slog.Info("queue: serving", "url", s.ClientURL(), "store", o.StoreDir)
			<-cmd.Context().Done()
			slog.Info("queue: shutting down")
			s.Shutdown()
			return nil
		},
	}
	f := serve.Flags()
	f.StringVar(&o.Listen, "listen", "127.0.0.1:4222", "client address HOST:PORT (0.0.0.0 for every interface)")
	f.StringVar(&o.StoreDir, "store", "", "JetStream file store directory (required)")
	f.StringVar(&o.Name, "name", "", "server name (default host name; unique in a cluster)")
	f.StringVar(&o.ClusterListen, "cluster-listen", "", "cluster address HOST:PORT for routes from the other servers")
	f.StringVar(&o.Routes, "routes", "", "the other servers' cluster URLs, comma-separated (nats-route://host:6222)")
	f.StringVar(&o.ClusterName, "cluster-name", "wit", "cluster name")
	f.StringVar(&o.Token, "token", "", "require this token from clients (nats://TOKEN@host:port)")
	f.StringVar(&o.User, "user", "", "require this user (with --password) from clients (nats://USER:PASS@host:port)")
	f.StringVar(&o.Password, "password", "", "password of --user")
	f.StringVar(&o.TLSCert, "tls-cert", "", "TLS certificate (PEM); with --tls-key clients connect with tls://")
	f.StringVar(&o.TLSKey, "tls-key", "", "TLS key (PEM)")
	_ = serve.MarkFlagRequired("store")
	cmd.AddCommand(serve)
	return cmd
}

func newWorkerCmd() *cobra.Command {
	var (
		q queueFlags
		o dist.WorkerOptions
	)
	cmd := &cobra.Command{
		Use:   "worker --queue URL [--concurrency N]",
		Short: "Pull tasks from the queue and run them until stopped",
		Long: `Connect to the queue and run tasks of any job (fetch slices, crawl partitions, ...), --concurrency
at a time. Each task is heartbeated while it runs and acknowledged only once its outputs are
written; a worker that dies loses nothing: its tasks go to another worker after --ack-wait.
Ctrl-C or SIGTERM hands the running tasks back at once.

Outputs are written where the job says (its --out), which must be storage every worker sees.
A job submitted with --allow-private (loopback, private and link-local destinations: intranet
mirrors, tests) runs only on workers started with --allow-private, so that a job on a shared
queue cannot make every worker probe its internal network.`,
		Example: `  wit worker --queue nats://queue-host:4222 --concurrency 4`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := q.connect(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			o.Logger = slog.Default()
			return dist.RunWorker(cmd.Context(), c, o)
		},
	}
	q.add(cmd)
	f := cmd.Flags()
	f.IntVar(&o.Concurrency, "concurrency", 1, "tasks run at once (each task has its own download/crawl workers)")
	f.StringVar(&o.ID, "id", "", "worker name shown by wit jobs (default HOST-PID)")
	f.BoolVar(&o.AllowPrivate, "allow-private", false, "run tasks of jobs that ask for loopback, private and link-local destinations")
	d := dist.DefaultSettings()
	f.DurationVar(&o.Poll, "poll", time.Second, "advanced: how long an idle worker's pull waits for a task before it looks for crawl partitions")
	f.DurationVar(&o.RetryDelay, "retry-delay", time.Second, "advanced: delay before a failed task is delivered again; it doubles with every attempt, up to 30s")
	f.DurationVar(&q.settings.WorkerTTL, "worker-ttl", d.WorkerTTL, "advanced: a worker not heard from for this long is no longer listed by wit jobs (it heartbeats every third of it)")
	return cmd
}

func newJobsCmd() *cobra.Command {
	var (
		q      queueFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "jobs --queue URL",
		Short: "List jobs (tasks done, running, queued, failed with their errors) and the workers alive",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			c, err := q.connect(ctx)
			if err != nil {
				return err
			}
			defer c.Close()
			jobs, err := c.Jobs(ctx)
			if err != nil {
				return err
			}
			var sts []dist.JobStatus
			for _, j := range jobs {
				st, err := c.Status(ctx, j)
				if err != nil {
					return err
				}
				sts = append(sts, st)
			}
			workers, err := c.Workers(ctx)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(os.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(map[string]any{"jobs": sts, "workers": workers})
			}
			dist.WriteStatus(os.Stdout, sts, workers)
			return nil
		},
	}
	q.add(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print jobs and workers as JSON")
	return cmd
}

// submitFlags are what every wit submit STAGE adds to the stage's own flags.
type submitFlags struct {
	queueFlags
	wait bool
}

func (s *submitFlags) add(cmd *cobra.Command) {
	s.queueFlags.add(cmd)
	cmd.Flags().BoolVar(&s.wait, "wait", false, "wait until the job is complete, showing progress; exit non-zero if its final step failed")
}

// finish prints the job's ID and, with --wait, waits for it.
// run connects to the queue, submits the job that submit builds and finishes as --wait says.
func (s *submitFlags) run(cmd *cobra.Command, submit func(context.Context, *dist.Conn) (*dist.JobRecord, error)) error {
	ctx := cmd.Context()
	c, err := s.connect(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	job, err := submit(ctx, c)
	if err != nil {
		return err
	}
	return s.finish(ctx, c, job)
}

func (s *submitFlags) finish(ctx context.Context, c *dist.Conn, job *dist.JobRecord) error {
	fmt.Fprintf(os.Stdout, "%s\n", job.ID)
	slog.Info("submit: job queued", "job", job.ID, "kind", job.Kind, "tasks", job.Tasks)
	if !s.wait {
		return nil
	}
	last := time.Time{}
	p, err := c.WaitChain(ctx, job.ID, time.Second, func(p dist.Progress) {
		if time.Since(last) >= 5*time.Second {
			last = time.Now()
			if p.Job.Lease {
				slog.Info("submit: waiting", "job", p.Job.ID, "kind", p.Job.Kind)
			} else {
				slog.Info("submit: waiting", "job", p.Job.ID, "kind", p.Job.Kind, "tasks_finished", p.Outcomes, "of", p.Job.Tasks)
			}
		}
	})
	if err != nil {
		return err
	}
	if p.Final != nil && p.Final.State == dist.StateFailed {
		return fmt.Errorf("job %s: final step failed: %s", p.Job.ID, p.Final.Error)
	}
	st, err := c.Status(ctx, p.Job)
	if err != nil {
		return err
	}
	if st.Failed > 0 {
		slog.Warn("submit: job complete with failed tasks (wit jobs lists them)", "job", p.Job.ID, "failed", st.Failed)
	} else {
		slog.Info("submit: job complete", "job", p.Job.ID, "tasks", st.Done)
	}
	return nil
}

func newSubmitCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "submit STAGE --queue URL [--wait] [the stage's flags]",
		Short: "Submit a stage as a job that workers on many machines run",
		Long: `Submit a stage as a job on the queue; "wit worker" processes on any number of machines run its
tasks. Each subcommand takes the same flags as the single-machine command, plus --queue and
--wait. Locations (--in, --seeds, --out, --state) must be where every worker sees them: an
s3:// URL, or a path on a shared file system (absolute or relative to the directory wit submit
runs in). Submitting the same job twice is harmless: it
has the same ID and nothing already done runs again.`,
	}
	cmd.AddCommand(newSubmitFetchCmd(), newSubmitCCCmd(), newSubmitCrawlCmd(), newSubmitFilterCmd(), newSubmitBuildCmd())
	return cmd
}

func newSubmitBuildCmd() *cobra.Command {
	var (
		s                            submitFlags
		partitions, filterPartitions int
		fetchPartitions              int
	)
	cmd := buildCommand(func(cmd *cobra.Command, o *buildOptions) error {
		cfg := o.Config
		return s.run(cmd, func(ctx context.Context, c *dist.Conn) (*dist.JobRecord, error) {
			return stages.SubmitBuild(ctx, c, cfg, partitions, filterPartitions, fetchPartitions)
		})
	})
	cmd.Use = "build --queue URL --seeds FILE --queries FILE|default --out DIR|s3://BUCKET/PREFIX [build flags]"
	cmd.Short = "Crawl, filter and fetch on many machines, one stage after the other"
	cmd.Long = `Build as a pipeline of jobs on the queue: the crawl (hosts in --partitions, as "wit submit
crawl") into --out/pairs, then the filter with exact balancing (MetaCLIP's count, reduce and
sample steps, as "wit submit filter") into --out/filtered, then the fetch (as "wit submit fetch")
into --out/shards; each job's final step submits the next. Unlike "wit build", which streams the
stages in one process with online balancing, each stage finishes before the next starts, so the
balancing uses the complete counts. Crawl state lives in --out/state/crawl; the pairs are always
kept. --seeds and --out may be s3:// URLs or shared paths. --wait follows the whole pipeline. --max-lag, --keep-pairs, --json and --quiet only matter
to "wit build".`
	cmd.Example = `  wit submit build --queue nats://queue-host:4222 --seeds /shared/seeds.txt --queries default --out /shared/data --wait`
	s.add(cmd)
	f := cmd.Flags()
	f.IntVar(&partitions, "partitions", stages.DefaultPartitions, "crawl partitions of the hosts")
	f.IntVar(&filterPartitions, "filter-partitions", 16, "filter partitions of the pair keys")
	f.IntVar(&fetchPartitions, "fetch-partitions", stages.DefaultFetchPartitions, "fetch partitions of the image hosts (one task each)")
	return cmd
}

func newSubmitFilterCmd() *cobra.Command {
	var (
		s          submitFlags
		partitions int
	)
	cmd := filterCommand(func(cmd *cobra.Command, o *filterOptions) error {
		opts, set := o.Run, o.Stages
		return s.run(cmd, func(ctx context.Context, c *dist.Conn) (*dist.JobRecord, error) {
			return stages.SubmitFilter(ctx, c, opts, set, partitions)
		})
	})
	cmd.Use = "filter --queue URL --in PAIRS --out DIR|s3://BUCKET/PREFIX [filter flags]"
	cmd.Short = "Filter on many machines: MetaCLIP's count, reduce and sample steps; equals --mode exact"
	cmd.Long = `Filter as three jobs on the queue, MetaCLIP's way: the caption stages (text rules, query match,
language) run per input file; dedup and per-entry match counts run per partition of the pair
keys (one owner per key, first occurrence in input order kept); the counts are added up once;
balancing runs per partition with the global counts; the kept rows are merged back into input
order. The output (rows, files, filter-stats.json counts) equals "wit filter --mode exact" on
the same input. --in and --out (and --stats-json) may be s3:// URLs or shared paths; the work
folder .OUT.dist beside --out is removed at the end. --wait follows the three jobs. --keep-all
and --mode online run on one machine.`
	cmd.Example = `  wit submit filter --queue nats://queue-host:4222 --in /shared/pairs --queries default --out /shared/filtered --wait`
	s.add(cmd)
	cmd.Flags().IntVar(&partitions, "partitions", 16, "partitions of the pair keys (dedup owners and sampling tasks)")
	return cmd
}

func newSubmitCrawlCmd() *cobra.Command {
	var (
		s          submitFlags
		partitions int
	)
	cmd := crawlCommand(func(cmd *cobra.Command, o *crawlOptions) error {
		cfg := o.Config
		return s.run(cmd, func(ctx context.Context, c *dist.Conn) (*dist.JobRecord, error) {
			return stages.SubmitCrawl(ctx, c, cfg, partitions)
		})
	})
	cmd.Use = "crawl --queue URL --seeds FILE --out DIR|s3://BUCKET/PREFIX [--state DIR|s3://…] [crawl flags]"
	cmd.Short = "Crawl on many machines: hosts split into partitions, each crawled by one worker at a time"
	cmd.Long = `Crawl as a job on the queue. The hosts are split into --partitions by registered domain; one
worker at a time crawls a partition (a lease it heartbeats), so --per-host, --delay and
robots.txt hold across all machines. Links to hosts of other partitions are forwarded through
the queue. Each partition's state (visited set, frontier, pending pairs, outbox) lives in
--state/pNNNN (default --state: OUT/.crawl-state): a worker that dies is replaced by another
that continues from that state. On a shared path the state is written there as the crawl goes;
with an s3:// --state it is kept on the holder's local disk and saved to the bucket when the
lease ends, so a worker killed mid-lease costs that lease's work (done again; nothing lost or
written twice). When no partition has anything left, the pair files are moved (s3://: copied)
into --out, numbered in partition order, with the summed stats.json.

--seeds, --out and --state must be where every worker sees them: s3:// URLs or shared paths.
--max-pages applies per
partition; every other option means what it means for "wit crawl" (--json and --quiet only
matter to "wit crawl").`
	cmd.Example = `  wit submit crawl --queue nats://queue-host:4222 --seeds /shared/seeds.txt --out /shared/pairs --state /shared/crawl-state --wait`
	s.add(cmd)
	cmd.Flags().IntVar(&partitions, "partitions", stages.DefaultPartitions, "partitions of the hosts (each crawled by one worker at a time)")
	return cmd
}

func newSubmitFetchCmd() *cobra.Command {
	var (
		s          submitFlags
		partitions int
	)
	cmd := fetchCommand(func(cmd *cobra.Command, o *fetchOptions) error {
		cfg, in := o.Config, o.In
		inOpts := fetch.InputOptions{URLCol: o.URLCol, CaptionCol: o.CaptionCol, Format: o.InputFormat}
		return s.run(cmd, func(ctx context.Context, c *dist.Conn) (*dist.JobRecord, error) {
			return stages.SubmitFetch(ctx, c, cfg, in, inOpts, partitions)
		})
	})
	cmd.Use = "fetch --queue URL --in INPUT --out DIR|s3://BUCKET/PREFIX [fetch flags]"
	cmd.Short = "Fetch on many machines: the image hosts split into partitions, one task each"
	cmd.Long = `Fetch as a job on the queue: the input is read here and its items are split by image host
into --partitions partitions (written under OUT/_dist with their input positions). Each
partition is one task (partitions smaller than a shard are grouped), so all of a host's images
are fetched by one worker at a time and --per-host and --delay hold across machines. A task
writes its shards straight into --out under its own range of shard numbers; the final step
writes manifest.json, sizes.json, fetch.json and the summed stats.json and removes OUT/_dist.
A partition holding a large host takes as long as that host's limits allow; more partitions
than worker slots keep the others busy meanwhile. --out must be where every worker sees it: an
s3:// URL or a shared path; --in is read by wit submit only (a path, or an s3:// URL).
Afterwards "wit fetch --in INPUT --out OUT" finds nothing left to do.`
	cmd.Example = `  wit submit fetch --queue nats://queue-host:4222 --in /shared/filtered --out /shared/data --wait`
	s.add(cmd)
	cmd.Flags().IntVar(&partitions, "partitions", stages.DefaultFetchPartitions, "partitions of the image hosts (one task each, small ones grouped)")
	return cmd
}

func newSubmitCCCmd() *cobra.Command {
	var s submitFlags
	cmd := ccCommand(func(cmd *cobra.Command, cfg *ccConfig) error {
		if len(cfg.In) == 0 {
			return errors.New("submit cc: --in is required")
		}
		return s.run(cmd, func(ctx context.Context, c *dist.Conn) (*dist.JobRecord, error) {
			return stages.SubmitCC(ctx, c, cfg.Options, cfg.In, cfg.Base)
		})
	})
	cmd.Use = "cc --queue URL --in FILE|DIR|URL|LIST --out DIR|s3://BUCKET/PREFIX [cc flags]"
	cmd.Short = "Read Common Crawl WARC/WAT files on many machines: one task per input file"
	cmd.Long = `Run wit cc as a job on the queue: the inputs are expanded here (files, folders, URLs, *.paths
lists against --base) and each input file becomes one task, run by whichever worker pulls it
(cc.ProcessFile). A task writes its pair file NNNNN.arrow (NNNNN = the input's position) and
its done marker, so a redelivered task overwrites the same names or finds its marker: the output
is the one "wit cc" writes, cc-stats.json (the files' counters added up) included. --out and
--state (default OUT/.cc-state) must be where every worker sees them: a shared path or an s3://
URL. --workers, --limit-files, --json and --quiet only matter to "wit cc".`
	cmd.Example = `  wit submit cc --queue nats://queue-host:4222 --in crawl-data/CC-MAIN-2024-10/wat.paths.gz --out 's3://bucket/cc?region=us-east-1' --wait`
	s.add(cmd)
	return cmd
}
