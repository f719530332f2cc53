package stages

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"gopkg.in/yaml.v3"

	"github.com/witdata/wit/crawl"
	"github.com/witdata/wit/dist"
	"github.com/witdata/wit/internal/atomicfile"
	"github.com/witdata/wit/internal/storage"
	"github.com/witdata/wit/shards"
)

// KindCrawl is the task kind of a distributed crawl: one lease task per partition of the hosts.
const KindCrawl = "crawl"

// DefaultPartitions is the number of crawl partitions when the submitter gives none: enough
// that the hosts spread over many workers, few enough that a partition's state stays large.
const DefaultPartitions = 64

// mergePlan is the final step's record of which partition file becomes which output file.
const mergePlan = "merge-plan.json"

// CrawlSpec is a distributed crawl job's spec: the single-machine options and the partitions.
type CrawlSpec struct {
	Config     crawl.Config `yaml:"config"` // Seeds, Out and State are absolute
	Partitions int          `yaml:"partitions"`
	Then       *BuildThen   `yaml:"then,omitempty"` // a distributed build's next stages
}

type crawlTask struct {
	Partition int `json:"partition"`
}

func partitionID(p int) string { return fmt.Sprintf("p%04d", p) }

// SubmitCrawl submits a crawl split into partitions of the hosts (crawl.PartitionOf: by
// registered domain). Partition p is a lease task: one worker at a time crawls it with
// crawl.Run, its state (visited set, frontier, outbox) in <state>/pNNNN, its pair files in
// <out>/_dist/parts/pNNNN. Seeds, Out and State (default <out>/.crawl-state) must be where every
// worker sees them: s3:// URLs or shared paths. A state on object storage is kept on the
// holder's local disk and saved to <state>/pNNNN when the lease ends (crawlstate.go).
func SubmitCrawl(ctx context.Context, c *dist.Conn, cfg crawl.Config, partitions int) (*dist.JobRecord, error) {
	return submitCrawl(ctx, c, cfg, partitions, nil)
}

func submitCrawl(ctx context.Context, c *dist.Conn, cfg crawl.Config, partitions int, then *BuildThen) (*dist.JobRecord, error) {
	if partitions <= 0 {
		partitions = DefaultPartitions
	}
	if cfg.State == "" && cfg.Out != "" {
		cfg.State = storage.Join(cfg.Out, ".crawl-state")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Out == "" {
		return nil, errors.New("submit crawl: --out is required")
	}
	for _, p := range []struct {
		flag string
		path *string
	}{{"seeds", &cfg.Seeds}, {"out", &cfg.Out}, {"state", &cfg.State}} {
		abs, err := jobLocation(p.flag, *p.path)
		if err != nil {
			return nil, err
		}
		*p.path = abs
	}
	if files, err := shards.ListFiles(cfg.Out); err == nil && len(files) > 0 {
		return nil, fmt.Errorf("submit crawl: %s already holds pair files; a distributed crawl writes into an empty directory", cfg.Out)
	}
	spec := CrawlSpec{Config: cfg, Partitions: partitions, Then: then}
	spec.Config.Logger, spec.Config.Progress, spec.Config.OnPair, spec.Config.ShareLimitsWith = nil, nil, nil, nil
	text, err := yaml.Marshal(&spec)
	if err != nil {
		return nil, err
	}
	tasks := make([]json.RawMessage, partitions)
	ids := make([]string, partitions)
	for p := range partitions {
		tasks[p], _ = json.Marshal(crawlTask{Partition: p})
		ids[p] = partitionID(p)
	}
	return c.Submit(ctx, dist.Submission{Kind: KindCrawl, Spec: string(text), Tasks: tasks, TaskIDs: ids})
}

func decodeCrawlSpec(text string) (*CrawlSpec, error) {
	spec := CrawlSpec{Config: crawl.DefaultConfig()}
	dec := yaml.NewDecoder(strings.NewReader(text))
	dec.KnownFields(true)
	if err := dec.Decode(&spec); err != nil {
		return nil, dist.Permanent(fmt.Errorf("crawl job spec: %w", err))
	}
	if spec.Partitions <= 0 {
		return nil, dist.Permanent(errors.New("crawl job spec: no partitions"))
	}
	return &spec, nil
}

func crawlPartDir(out string, p int) string {
	return storage.Join(out, WorkDir, partsDir, partitionID(p))
}

// runCrawlPartition crawls one partition until it has nothing left: its frontier, outbox and
// inbox empty. Then it releases the lease (ack), wakes itself again if links arrived in the
// meantime, and enqueues the job's final step if no partition has anything left.
func runCrawlPartition(ctx context.Context, t *dist.Task) (any, error) {
	spec, err := decodeCrawlSpec(t.Job.Spec)
	if err != nil {
		return nil, err
	}
	var in crawlTask
	if err := t.DecodeInput(&in); err != nil {
		return nil, err
	}
	p, n := in.Partition, spec.Partitions
	cfg := spec.Config
	if err := t.CheckPrivate(cfg.AllowPrivate); err != nil {
		return nil, err
	}
	cfg.Out = crawlPartDir(spec.Config.Out, p)
	cfg.Logger = t.Log
	cfg.Local = func(host string) bool { return crawl.PartitionOf(host, n) == p }
	fw := &forwarder{c: t.Conn, job: t.Job, from: p, partitions: n, ctx: ctx}
	cfg.Forward = fw.forward
	cons, err := t.Conn.TaskInbox(ctx, t.Job, partitionID(p))
	if err != nil {
		return nil, err
	}
	ib := &inbox{cons: cons}
	cfg.Inbox = ib
	cfg.InboxGrace = inboxGrace
	var local *localPartition
	if storage.IsRemote(spec.Config.State) {
		if local, err = restorePartition(ctx, spec.Config.State, cfg.Out, p); err != nil {
			return nil, err
		}
		defer local.unlock()
		cfg.State = local.state
		// The restored outbox numbers were maybe forwarded by a lease whose state is lost.
		fw.lease = strconv.FormatInt(time.Now().UnixNano(), 36)
		ib.deferred = newDeferredAcks(max(cons.CachedInfo().Config.AckWait/3, 50*time.Millisecond))
		defer ib.deferred.close()
	} else {
		cfg.State = filepath.Join(spec.Config.State, partitionID(p))
	}
	st, err := crawl.Run(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if !st.Finished {
		return nil, fmt.Errorf("partition %d: crawl stopped before its frontier was empty", p)
	}
	if local != nil {
		if err := local.save(ctx, cfg.Out); err != nil {
			return nil, fmt.Errorf("partition %d: save state: %w", p, err)
		}
		if err := ib.deferred.ackAll(ctx); err != nil {
			t.Log.Warn("crawl: ack inbox messages (they are delivered again, their links dropped as seen)", "err", err)
		}
	}
	if err := t.Ack(ctx); err != nil {
		return nil, err
	}
	// Links sent after the crawl's last look at its inbox: the sender's wake was refused while
	// this task held its message, so wake it now. (If this process dies here, the workers'
	// sweep wakes it: Kind.Wake.)
	bg := context.WithoutCancel(ctx)
	if pending, err := t.Conn.InboxPending(bg, t.Job, partitionID(p)); err != nil {
		return nil, err
	} else if pending > 0 {
		if _, err := t.Conn.Republish(bg, t.Job, partitionID(p), p, t.Input); err != nil {
			return nil, err
		}
	}
	if err := t.Conn.SettleLeaseJob(bg, t.Job); err != nil {
		return nil, err
	}
	return st, nil
}

// wakeCrawl enqueues partition task again (the workers' sweep, for links nobody would read).
func wakeCrawl(ctx context.Context, c *dist.Conn, job *dist.JobRecord, task string) error {
	var p int
	if _, err := fmt.Sscanf(task, "p%d", &p); err != nil {
		return fmt.Errorf("crawl: task %q is not a partition", task)
	}
	input, _ := json.Marshal(crawlTask{Partition: p})
	_, err := c.Republish(ctx, job, task, p, input)
	return err
}

// settleCrawl runs after a partition failed for good: the links sent to it are dropped (and
// counted in the log), and the job is finished if nothing else is left.
func settleCrawl(ctx context.Context, c *dist.Conn, job *dist.JobRecord, task string) error {
	n, err := c.PurgeInbox(ctx, job, task)
	if err != nil {
		return err
	}
	if n > 0 {
		slogFor(job).Error("crawl: partition failed for good; links forwarded to it are dropped", "partition", task, "batches", n)
	}
	return c.SettleLeaseJob(ctx, job)
}

// inboxGrace is how long an idle partition waits for forwarded links before it releases its
// lease: restarting a partition costs an open of its state and new robots.txt fetches.
const inboxGrace = 300 * time.Millisecond

// linksPerMessage caps an inbox message at a few hundred KB.
const linksPerMessage = 1000

// forwarder publishes a partition's outbox batches to the inboxes of the partitions that own
// the links, and wakes those partitions.
type forwarder struct {
	c          *dist.Conn
	job        *dist.JobRecord
	from       int
	partitions int
	ctx        context.Context
	lease      string // a lease's own tag in message IDs when its state may be rolled back ("": none)
}

func (f *forwarder) forward(b crawl.OutboxBatch) error {
	by := map[int][]crawl.Link{}
	for _, l := range b.Links {
		q := crawl.PartitionOf(l.Host, f.partitions)
		by[q] = append(by[q], l)
	}
	dests := make([]int, 0, len(by))
	for q := range by {
		dests = append(dests, q)
	}
	sort.Ints(dests)
	ctx := context.WithoutCancel(f.ctx)
	for _, q := range dests {
		links := by[q]
		// Messages stay far below NATS's payload limit (1 MB by default on a nats-server).
		for chunk := 0; len(links) > 0; chunk++ {
			n := min(len(links), linksPerMessage)
			data, err := json.Marshal(links[:n])
			if err != nil {
				return err
			}
			links = links[n:]
			// The same outbox entries forwarded twice (a crash before their deletion) have the
			// same IDs.
			msgID := fmt.Sprintf("%s.%s.o%d-%d.%s.%d", f.job.ID, partitionID(f.from), b.First, b.Last, partitionID(q), chunk)
			if f.lease != "" {
				msgID += "." + f.lease
			}
			if err := f.c.SendToTask(ctx, f.job, partitionID(q), data, msgID); err != nil {
				return err
			}
		}
		input, _ := json.Marshal(crawlTask{Partition: q})
		if _, err := f.c.Republish(ctx, f.job, partitionID(q), q, input); err != nil {
			return err
		}
	}
	return nil
}

// inbox reads a partition's inbox for crawl.Run. With deferred set, messages are acked only when
// the lease's state is saved.
type inbox struct {
	cons     jetstream.Consumer
	deferred *deferredAcks
}

func (in *inbox) Next(ctx context.Context) ([]crawl.Link, func() error, error) {
	batch, err := in.cons.FetchNoWait(64)
	if err != nil {
		return nil, nil, err
	}
	var links []crawl.Link
	var msgs []jetstream.Msg
	for m := range batch.Messages() {
		var ls []crawl.Link
		if err := json.Unmarshal(m.Data(), &ls); err != nil {
			_ = m.Term() // not ours to read; never delivered again
			continue
		}
		links = append(links, ls...)
		msgs = append(msgs, m)
	}
	if err := batch.Error(); err != nil && len(msgs) == 0 {
		return nil, nil, err
	}
	ack := func() error {
		if in.deferred != nil {
			in.deferred.add(msgs)
			return nil
		}
		for _, m := range msgs {
			if err := m.DoubleAck(ctx); err != nil {
				return err
			}
		}
		return nil
	}
	return links, ack, nil
}

// finalizeCrawl brings every partition's pair files into the output folder, numbered in
// partition order, and writes the summed stats.json. On a local (shared) folder the files are
// renamed; on object storage, which has no rename, they are copied (pair files are small: text
// only), each copy a complete object under its final name, and the partitions' folders are
// deleted afterwards. A plan file records which file becomes which, so an interrupted run of
// this step is finished by the next.
func finalizeCrawl(ctx context.Context, f *dist.Final) (any, error) {
	spec, err := decodeCrawlSpec(f.Job.Spec)
	if err != nil {
		return nil, err
	}
	out := spec.Config.Out
	work := storage.Join(out, WorkDir)
	if _, err := storage.Stat(ctx, work); storage.IsNotExist(err) {
		if _, err := storage.Stat(ctx, storage.Join(out, "stats.json")); err == nil {
			// Merged by an earlier run of this step, which stopped before the end.
			return crawlDone(ctx, f, spec, nil)
		}
	}
	planPath := storage.Join(work, mergePlan)
	var plan []struct{ From, To string }
	if data, err := storage.ReadFile(ctx, planPath); err == nil {
		if err := json.Unmarshal(data, &plan); err != nil {
			return nil, dist.Permanent(fmt.Errorf("%s: %w", planPath, err))
		}
	} else if !storage.IsNotExist(err) {
		return nil, err
	} else {
		next := 0
		for p := range spec.Partitions {
			files, err := shards.ListFiles(crawlPartDir(out, p))
			if err != nil {
				if storage.IsNotExist(err) {
					continue
				}
				return nil, err
			}
			for _, file := range files {
				plan = append(plan, struct{ From, To string }{file, storage.Join(out, shards.FileName(next))})
				next++
			}
		}
		data, _ := json.Marshal(plan)
		if err := storage.WriteFile(ctx, planPath, data); err != nil {
			return nil, err
		}
	}
	_, local := storage.LocalPath(out)
	for _, m := range plan {
		if local {
			// Each rename is atomic and done in plan order: a rerun skips the moved ones.
			if err := os.Rename(m.From, m.To); err != nil && !errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("merge %s: %w", m.From, err)
			}
			continue
		}
		if err := copyOnce(ctx, m.From, m.To); err != nil {
			return nil, fmt.Errorf("merge %s: %w", m.From, err)
		}
	}
	if local {
		if err := atomicfile.SyncDir(out); err != nil {
			return nil, err
		}
	}
	var parts []crawl.Stats
	for p := range spec.Partitions {
		data, err := storage.ReadFile(ctx, storage.Join(crawlPartDir(out, p), "stats.json"))
		if storage.IsNotExist(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		var st crawl.Stats
		if err := json.Unmarshal(data, &st); err != nil {
			return nil, fmt.Errorf("partition %d stats: %w", p, err)
		}
		st.Duration = time.Duration(st.DurationSec * float64(time.Second))
		parts = append(parts, st)
	}
	st := crawl.MergeStats(parts, time.Since(f.Job.Created))
	var failed []string
	for id, o := range f.Outcomes {
		if o.State == dist.StateFailed {
			failed = append(failed, id)
		}
	}
	slices.Sort(failed)
	st.Finished = st.Finished && len(failed) == 0
	if err := crawl.WriteStats(out, st); err != nil {
		return nil, err
	}
	ids := make([]string, spec.Partitions)
	for p := range ids {
		ids[p] = partitionID(p)
	}
	if err := f.Conn.DeleteInboxes(ctx, f.Job, ids); err != nil {
		f.Log.Warn("crawl: delete inbox consumers", "err", err)
	}
	if err := storage.RemoveAll(ctx, work); err != nil {
		return nil, err
	}
	return crawlDone(ctx, f, spec, map[string]any{"pages_ok": st.PagesOK, "pairs": st.PairsWritten, "files": len(plan), "failed_partitions": failed})
}

// copyOnce copies src to dst unless dst holds it already (a complete object of the same size:
// copied by an earlier run of the merge).
func copyOnce(ctx context.Context, src, dst string) error {
	si, err := storage.Stat(ctx, src)
	if err != nil {
		return err
	}
	if di, err := storage.Stat(ctx, dst); err == nil && di.Size == si.Size {
		return nil
	}
	return storage.Copy(ctx, src, dst)
}

// crawlDone ends a crawl job: a build's crawl hands over to its filter.
func crawlDone(ctx context.Context, f *dist.Final, spec *CrawlSpec, result any) (any, error) {
	if spec.Then == nil {
		return result, nil
	}
	next, err := afterCrawl(ctx, f.Conn, spec)
	if err != nil {
		return nil, err
	}
	return dist.Next{Job: next.ID}, nil
}
