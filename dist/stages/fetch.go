package stages

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"iter"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/witdata/wit/dist"
	"github.com/witdata/wit/fetch"
	"github.com/witdata/wit/internal/storage"
	"github.com/witdata/wit/shards"
)

// KindFetch is the task kind of a distributed fetch: one task per partition of the image hosts
// (small partitions grouped).
const KindFetch = "fetch"

// DefaultFetchPartitions is how many partitions of the image hosts a distributed fetch makes
// when not told.
const DefaultFetchPartitions = 256

// Layout of a distributed fetch's working files inside its output folder; the final step
// removes them.
const (
	WorkDir  = "_dist" // <out>/_dist
	itemsDir = "items" // <out>/_dist/items/PPPPP-CCCCC.jsonl: chunk C of partition P's items (written by the submitter)
	partsDir = "parts" // <out>/_dist/parts/TTTTT/: task T's own files (its manifest, stats, fetch.json)
)

// shardReserve is the spare shard numbers each partition gets beyond two per SamplesPerShard
// items (a shard and a failures-only record): every run of a partition cut off by a kill can
// leave one partial shard and one failure record more.
const shardReserve = 16

// Submitting holds the items of all partitions in memory until a partition's chunk reaches
// chunkBytes or all of them together reach submitBudget (then the largest is written). Tests
// make them small.
var (
	chunkBytes   = 1 << 20
	submitBudget = 64 << 20
)

// FetchSpec is a distributed fetch job's spec: the single-machine options and the input.
type FetchSpec struct {
	Config     fetch.Config `yaml:"config"`
	Input      string       `yaml:"input"` // the input, absolute when a path (fetch.json names it)
	URLCol     string       `yaml:"url_col,omitempty"`
	CaptionCol string       `yaml:"caption_col,omitempty"`
	Format     string       `yaml:"format,omitempty"`
	Partitions int          `yaml:"partitions"`
}

// fetchTask is one or more whole partitions of the image hosts, fetched one after the other:
// Count items, spread over the input; its shards are numbered in [FirstShard, ShardLimit).
type fetchTask struct {
	Task       int       `json:"task"` // names its part folder
	Partitions []partRef `json:"partitions"`
	Count      int64     `json:"count"`
	FirstShard int       `json:"first_shard"`
	ShardLimit int       `json:"shard_limit"`
}

// partRef names a partition's chunk files.
type partRef struct {
	Partition int `json:"partition"`
	Chunks    int `json:"chunks"`
}

// SubmitFetch partitions the items of a fetch's input by image host (fetch.HostKey; local files
// by position), writes each partition's items with their input positions under
// <out>/_dist/items (the output folder must be where every worker sees it: an s3:// URL or a
// shared path) and submits one task per partition that has items, partitions smaller than a
// shard grouped into one task. A host's images are thus all fetched by one task, on one worker
// at a time, so --per-host and --delay hold across machines as they do on one. Each task runs
// fetch.RunPositioned with its own range of shard numbers,
// writing its shards and their records straight into <out> under their final names
// (fetch.Config.ShardDir); the final step writes manifest.json, sizes.json, fetch.json and
// stats.json, so <out> ends up as a single-machine fetch would leave it (same schema, manifest
// and stats; a later `wit fetch --in INPUT --out OUT` resumes it, `--retry-failed` works).
func SubmitFetch(ctx context.Context, c *dist.Conn, cfg fetch.Config, input string, opts fetch.InputOptions, partitions int) (*dist.JobRecord, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("fetch: %w", err)
	}
	if input == "" {
		return nil, errors.New("submit fetch: --in is required (--retry-failed runs on one machine)")
	}
	if cfg.RetryFailed {
		return nil, errors.New("submit fetch: --retry-failed runs on one machine: wit fetch --out DIR --retry-failed")
	}
	if partitions <= 0 {
		partitions = DefaultFetchPartitions
	}
	out, err := jobLocation("out", cfg.Out)
	if err != nil {
		return nil, err
	}
	if input, err = jobLocation("in", input); err != nil {
		return nil, err
	}
	cfg.Out = out
	spec := FetchSpec{Config: cfg, Input: input, URLCol: opts.URLCol, CaptionCol: opts.CaptionCol, Format: opts.Format,
		Partitions: partitions}
	spec.Config.Logger, spec.Config.Progress, spec.Config.Client, spec.Config.ShareLimitsWith = nil, nil, nil, nil
	specText, err := yaml.Marshal(&spec)
	if err != nil {
		return nil, err
	}

	refs, counts, err := writePartitions(ctx, out, fetch.ReadInput(ctx, input, opts), partitions)
	if err != nil {
		return nil, err
	}
	var tasks []json.RawMessage
	for _, t := range groupTasks(refs, counts, cfg.SamplesPerShard) {
		data, _ := json.Marshal(t)
		tasks = append(tasks, data)
	}
	return c.Submit(ctx, dist.Submission{Kind: KindFetch, Spec: string(specText), Tasks: tasks})
}

// writePartitions splits items by image host into partitions, each item with its input
// position, and writes each partition's items as chunk files under <out>/_dist/items. It returns
// the partitions that have items and how many each has.
func writePartitions(ctx context.Context, out string, items iter.Seq2[fetch.Item, error], partitions int) ([]partRef, []int64, error) {
	type part struct {
		buf    []byte
		count  int64
		chunks int
	}
	parts := make([]part, partitions)
	buffered := 0
	write := func(p int) error {
		pt := &parts[p]
		if len(pt.buf) == 0 {
			return nil
		}
		if err := storage.WriteFile(ctx, chunkFile(out, p, pt.chunks), pt.buf); err != nil {
			return fmt.Errorf("submit fetch: %w", err)
		}
		pt.chunks++
		buffered -= len(pt.buf)
		pt.buf = nil
		return nil
	}
	var pos int64
	for it, err := range items {
		if err != nil {
			return nil, nil, err
		}
		p := partitionOfItem(fetch.HostKey(it.URL), pos, partitions)
		line, err := json.Marshal(fetch.Positioned{Pos: pos, Item: it})
		if err != nil {
			return nil, nil, err
		}
		pos++
		pt := &parts[p]
		pt.buf = append(append(pt.buf, line...), '\n')
		pt.count++
		buffered += len(line) + 1
		if len(pt.buf) >= chunkBytes {
			if err := write(p); err != nil {
				return nil, nil, err
			}
		}
		if buffered > submitBudget {
			largest := 0
			for i := range parts {
				if len(parts[i].buf) > len(parts[largest].buf) {
					largest = i
				}
			}
			if err := write(largest); err != nil {
				return nil, nil, err
			}
		}
	}
	refs := make([]partRef, 0, partitions)
	counts := make([]int64, 0, partitions)
	for p := range parts {
		if err := write(p); err != nil {
			return nil, nil, err
		}
		if parts[p].count > 0 {
			refs = append(refs, partRef{Partition: p, Chunks: parts[p].chunks})
			counts = append(counts, parts[p].count)
		}
	}
	return refs, counts, nil
}

// groupTasks makes the tasks of the partitions that have items (counts[i] items in refs[i]):
// partitions smaller than a shard are grouped until the task has a shard's worth, so that a
// small input does not end up as hundreds of small shards. Each task gets its range of shard
// numbers: 2 per SamplesPerShard items (a shard and a failures-only record) plus shardReserve.
func groupTasks(refs []partRef, counts []int64, samplesPerShard int) []fetchTask {
	var tasks []fetchTask
	var group fetchTask
	nextShard := 0
	emit := func() {
		if group.Count == 0 {
			return
		}
		group.Task = len(tasks)
		group.FirstShard = nextShard
		group.ShardLimit = nextShard + 2*int((group.Count+int64(samplesPerShard)-1)/int64(samplesPerShard)) + shardReserve
		nextShard = group.ShardLimit
		tasks = append(tasks, group)
		group = fetchTask{}
	}
	for i, ref := range refs {
		group.Partitions = append(group.Partitions, ref)
		group.Count += counts[i]
		if group.Count >= int64(samplesPerShard) {
			emit()
		}
	}
	emit()
	return tasks
}

// partitionOfItem is the partition of an item: by its host (FNV-1a), so that one task has all
// of a host's images; local files (no host) by position.
func partitionOfItem(host string, pos int64, partitions int) int {
	if host == "" {
		return int(pos % int64(partitions))
	}
	h := fnv.New32a()
	h.Write([]byte(host))
	return int(h.Sum32() % uint32(partitions))
}

func chunkFile(out string, partition, chunk int) string {
	return storage.Join(out, WorkDir, itemsDir, fmt.Sprintf("%05d-%05d.jsonl", partition, chunk))
}

// readChunks streams a task's items from its partitions' chunk files, partition after
// partition, each in the order it was written (input order).
func readChunks(ctx context.Context, out string, t fetchTask) iter.Seq2[fetch.Positioned, error] {
	return func(yield func(fetch.Positioned, error) bool) {
		for _, p := range t.Partitions {
			for c := range p.Chunks {
				file := chunkFile(out, p.Partition, c)
				data, err := storage.ReadFile(ctx, file)
				if err != nil {
					yield(fetch.Positioned{}, fmt.Errorf("partition %d: %w (the output folder must be on storage every worker sees)", p.Partition, err))
					return
				}
				for line := range bytes.Lines(data) {
					var it fetch.Positioned
					if err := json.Unmarshal(line, &it); err != nil {
						yield(fetch.Positioned{}, fmt.Errorf("%s: %w", file, err))
						return
					}
					if !yield(it, nil) {
						return
					}
				}
			}
		}
	}
}

func decodeFetchSpec(text string) (*FetchSpec, error) {
	spec := FetchSpec{Config: fetch.DefaultConfig()}
	dec := yaml.NewDecoder(strings.NewReader(text))
	dec.KnownFields(true)
	if err := dec.Decode(&spec); err != nil {
		return nil, dist.Permanent(fmt.Errorf("fetch job spec: %w", err))
	}
	return &spec, nil
}

func partDir(out string, task int) string {
	return storage.Join(out, WorkDir, partsDir, fmt.Sprintf("%05d", task))
}

// runFetchTask fetches a task's partitions: its shards and records into the output folder, in
// the task's range of shard numbers, its own files into its part folder. A second run of the
// same task (its worker died) resumes from the records of that range: items already recorded
// are skipped, nothing is written twice.
func runFetchTask(ctx context.Context, t *dist.Task) (any, error) {
	spec, err := decodeFetchSpec(t.Job.Spec)
	if err != nil {
		return nil, err
	}
	var in fetchTask
	if err := t.DecodeInput(&in); err != nil {
		return nil, err
	}
	cfg := spec.Config
	if err := t.CheckPrivate(cfg.AllowPrivate); err != nil {
		return nil, err
	}
	cfg.Out = partDir(spec.Config.Out, in.Task)
	cfg.ShardDir = spec.Config.Out
	cfg.InputName = fmt.Sprintf("%s#hosts-task-%d", spec.Input, in.Task)
	cfg.FirstShard, cfg.ShardLimit = in.FirstShard, in.ShardLimit
	cfg.Logger = t.Log
	before, err := startPart(ctx, t, spec.Config.Out, cfg.Out, in.FirstShard, cfg.ShardLimit)
	if err != nil {
		return nil, fmt.Errorf("task %d: %w", in.Task, err)
	}
	st, err := fetch.RunPositioned(ctx, cfg, readChunks(ctx, spec.Config.Out, in))
	if err != nil {
		return nil, err
	}
	if st.Seen+st.Skipped != in.Count {
		return nil, fmt.Errorf("task %d: read %d items, want %d", in.Task, st.Seen+st.Skipped, in.Count)
	}
	after, err := fetch.ReadRecorded(ctx, spec.Config.Out, in.FirstShard, cfg.ShardLimit)
	if err != nil {
		return nil, fmt.Errorf("task %d: %w", in.Task, err)
	}
	return partStats(st, in.Count, before, after.Since(before.Recorded)), nil
}

// partStart is when the job's first run of a partition started and what the records of the
// partition's shard numbers held then.
type partStart struct {
	Time time.Time `json:"time"`
	fetch.Recorded
}

// startPart returns the partition's start: the job's first run of it reads the records and
// saves the reading in the partition's part folder (named by job, so a later job into the same
// output makes its own), later runs read the saved one. A run killed before the save had
// written nothing.
func startPart(ctx context.Context, t *dist.Task, out, part string, first, limit int) (partStart, error) {
	saved := storage.Join(part, "start-"+t.Job.ID+".json")
	var s partStart
	data, err := storage.ReadFile(ctx, saved)
	if err == nil {
		if err := json.Unmarshal(data, &s); err != nil {
			return s, fmt.Errorf("%s: %w", saved, err)
		}
		return s, nil
	}
	if !storage.IsNotExist(err) {
		return s, err
	}
	s.Time = time.Now().UTC()
	if s.Recorded, err = fetch.ReadRecorded(ctx, out, first, limit); err != nil {
		return s, err
	}
	return s, storage.WriteJSON(ctx, saved, &s)
}

// partStats turns the stats of a partition's last run into the stats of everything the job did
// for the partition. The last run skips what a run before it in the same job recorded, so its
// counts alone would lose those items; the records count every item once. Items recorded before
// the job are "skipped", as a single-machine run counts what an earlier run did. The
// partition's run time starts with its first run; downloaded bytes are those of the recorded
// items (an item cut off by a kill is downloaded again and counted once).
func partStats(last fetch.Stats, count int64, start partStart, byJob fetch.Recorded) fetch.Stats {
	st := last
	st.StartTime = start.Time
	st.Skipped = start.Items
	st.Seen = count - start.Items
	st.Done = byJob.Items
	st.Successes = byJob.Successes
	st.Failures = byJob.Failures
	st.Failed = byJob.Failed()
	st.ShardsWritten = byJob.Shards
	st.BytesWritten = byJob.Bytes
	st.DownloadedBytes = byJob.Downloaded
	return st
}

// finalizeFetch writes the output folder's manifest.json, sizes.json, fetch.json and the summed
// stats.json over the shards the partitions wrote there, and removes the working files. Run again
// (a redelivered final step), it writes the same files.
func finalizeFetch(ctx context.Context, f *dist.Final) (any, error) {
	spec, err := decodeFetchSpec(f.Job.Spec)
	if err != nil {
		return nil, err
	}
	out := spec.Config.Out
	// Temporary files of a partition that failed for good (no task writes any more); object
	// storage holds none.
	if err := shards.CleanTemp(out); err != nil {
		return nil, err
	}
	rec, _ := json.Marshal(map[string]string{"input": spec.Input})
	if err := storage.WriteFile(ctx, storage.Join(out, fetch.InputFile), rec); err != nil {
		return nil, err
	}
	m, err := shards.BuildManifest(out)
	if err != nil {
		return nil, err
	}
	if err := shards.WriteManifest(out, m); err != nil {
		return nil, err
	}
	var stats []fetch.Stats
	var failed []string
	for id, o := range f.Outcomes {
		if o.State != dist.StateDone {
			failed = append(failed, id+": "+o.Error)
			continue
		}
		var s fetch.Stats
		if err := json.Unmarshal(o.Result, &s); err != nil {
			return nil, dist.Permanent(fmt.Errorf("task %s result: %w", id, err))
		}
		stats = append(stats, s)
	}
	slices.Sort(failed)
	st := fetch.MergeStats(spec.Input, out, stats)
	st.DatasetShards, st.DatasetCount = len(m.Shards), m.TotalCount
	if len(failed) > 0 {
		st.Error = fmt.Sprintf("%d of %d partitions failed (run `wit fetch --in %s --out %s` to fetch their items): %s",
			len(failed), len(f.Outcomes), spec.Input, out, strings.Join(failed, "; "))
	}
	if err := storage.WriteJSON(ctx, storage.Join(out, fetch.StatsFile), &st); err != nil {
		return nil, err
	}
	if err := storage.RemoveAll(ctx, storage.Join(out, WorkDir)); err != nil {
		return nil, err
	}
	return st, nil
}
