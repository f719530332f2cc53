package stages

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/witdata/wit/dist"
	"github.com/witdata/wit/fetch"
	"github.com/witdata/wit/internal/storage"
	"github.com/witdata/wit/shards"
)

// KindFetch is the task kind of a distributed fetch: one task per slice of the input.
const KindFetch = "fetch"

// Layout of a distributed fetch's working files inside its output folder; the final step
// removes them.
const (
	WorkDir   = "_dist"  // <out>/_dist
	slicesDir = "slices" // <out>/_dist/slices/NNNNN.jsonl: the items of slice N (written by the submitter)
	partsDir  = "parts"  // <out>/_dist/parts/NNNNN/: slice N's own files (its manifest, stats, fetch.json)
)

// shardReserve is the spare shard numbers each slice gets beyond two per SamplesPerShard items
// (a shard and a failures-only record): every run of a slice cut off by a kill can leave one
// partial shard and one failure record more.
const shardReserve = 16

// FetchSpec is a distributed fetch job's spec: the single-machine options and the input.
type FetchSpec struct {
	Config        fetch.Config `yaml:"config"`
	Input         string       `yaml:"input"` // the input, absolute when a path (fetch.json names it)
	URLCol        string       `yaml:"url_col,omitempty"`
	CaptionCol    string       `yaml:"caption_col,omitempty"`
	Format        string       `yaml:"format,omitempty"`
	SliceSize     int          `yaml:"slice_size"`
	ShardsPerTask int          `yaml:"shards_per_task"`
}

// fetchTask is one slice: items [First, First+Count) of the input.
type fetchTask struct {
	Slice      int    `json:"slice"`
	First      int64  `json:"first"`
	Count      int64  `json:"count"`
	FirstShard int    `json:"first_shard"`
	File       string `json:"file"`
}

// SubmitFetch splits the input of a fetch into slices of sliceSize items, writes them under
// <out>/_dist/slices (the output folder must be where every worker sees it: an s3:// URL or a
// shared path) and submits one task per slice. Each task fetches its slice with fetch.Run, with
// the slice's input positions and its own range of shard numbers, writing its shards and their
// records straight into <out> under their final names (fetch.Config.ShardDir); the final step
// writes manifest.json, sizes.json, fetch.json and stats.json, so <out> ends up as a
// single-machine fetch would leave it (same schema, manifest and stats; a later
// `wit fetch --in INPUT --out OUT` resumes it, `--retry-failed` works).
func SubmitFetch(ctx context.Context, c *dist.Conn, cfg fetch.Config, input string, opts fetch.InputOptions, sliceSize int) (*dist.JobRecord, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("fetch: %w", err)
	}
	if input == "" {
		return nil, errors.New("submit fetch: --in is required (--retry-failed runs on one machine)")
	}
	if cfg.RetryFailed {
		return nil, errors.New("submit fetch: --retry-failed runs on one machine: wit fetch --out DIR --retry-failed")
	}
	if sliceSize <= 0 {
		sliceSize = cfg.SamplesPerShard
	}
	out, err := jobLocation("out", cfg.Out)
	if err != nil {
		return nil, err
	}
	if input, err = jobLocation("in", input); err != nil {
		return nil, err
	}
	cfg.Out = out
	dir := storage.Join(out, WorkDir, slicesDir)
	perTask := 2*((sliceSize+cfg.SamplesPerShard-1)/cfg.SamplesPerShard) + shardReserve
	spec := FetchSpec{Config: cfg, Input: input, URLCol: opts.URLCol, CaptionCol: opts.CaptionCol, Format: opts.Format,
		SliceSize: sliceSize, ShardsPerTask: perTask}
	spec.Config.Logger, spec.Config.Progress, spec.Config.Client, spec.Config.ShareLimitsWith = nil, nil, nil, nil
	specText, err := yaml.Marshal(&spec)
	if err != nil {
		return nil, err
	}

	var tasks []json.RawMessage
	var buf []byte
	var n int64
	flush := func() error {
		if n == 0 {
			return nil
		}
		i := len(tasks)
		file := storage.Join(dir, fmt.Sprintf("%05d.jsonl", i))
		if err := storage.WriteFile(ctx, file, buf); err != nil {
			return fmt.Errorf("submit fetch: %w", err)
		}
		t, _ := json.Marshal(fetchTask{Slice: i, First: int64(i) * int64(sliceSize), Count: n, FirstShard: i * perTask, File: file})
		tasks = append(tasks, t)
		buf, n = buf[:0], 0
		return nil
	}
	for it, err := range fetch.ReadInput(ctx, input, opts) {
		if err != nil {
			return nil, err
		}
		line, err := json.Marshal(it)
		if err != nil {
			return nil, err
		}
		buf = append(append(buf, line...), '\n')
		n++
		if n == int64(sliceSize) {
			if err := flush(); err != nil {
				return nil, err
			}
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return c.Submit(ctx, dist.Submission{Kind: KindFetch, Spec: string(specText), Tasks: tasks})
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

func partDir(out string, slice int) string {
	return storage.Join(out, WorkDir, partsDir, fmt.Sprintf("%05d", slice))
}

// runFetchTask fetches one slice: its shards and records into the output folder, in the
// slice's range of shard numbers, its own files into its part folder. A second run of the same
// slice (its worker died) resumes from the records of that range: items already recorded are
// skipped, nothing is written twice.
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
	cfg.Out = partDir(spec.Config.Out, in.Slice)
	cfg.ShardDir = spec.Config.Out
	cfg.InputName = fmt.Sprintf("%s#%d-%d", spec.Input, in.First, in.First+in.Count)
	cfg.FirstSeq = in.First
	cfg.FirstShard = in.FirstShard
	cfg.ShardLimit = in.FirstShard + spec.ShardsPerTask
	cfg.Logger = t.Log
	if _, err := storage.Stat(ctx, in.File); err != nil {
		return nil, fmt.Errorf("slice %d: %w (the output folder must be on storage every worker sees)", in.Slice, err)
	}
	before, err := startSlice(ctx, t, spec.Config.Out, cfg.Out, in.FirstShard, cfg.ShardLimit)
	if err != nil {
		return nil, fmt.Errorf("slice %d: %w", in.Slice, err)
	}
	source := fetch.ReadInput(ctx, in.File, fetch.InputOptions{URLCol: "url", CaptionCol: "caption", Format: "jsonl"})
	st, err := fetch.Run(ctx, cfg, source)
	if err != nil {
		return nil, err
	}
	if st.Seen+st.Skipped != in.Count {
		return nil, fmt.Errorf("slice %d: read %d items, want %d", in.Slice, st.Seen+st.Skipped, in.Count)
	}
	after, err := fetch.ReadRecorded(ctx, spec.Config.Out, in.FirstShard, cfg.ShardLimit)
	if err != nil {
		return nil, fmt.Errorf("slice %d: %w", in.Slice, err)
	}
	return sliceStats(st, in.Count, before, after.Since(before.Recorded)), nil
}

// sliceStart is when the job's first run of a slice started and what the records of the
// slice's shard numbers held then.
type sliceStart struct {
	Time time.Time `json:"time"`
	fetch.Recorded
}

// startSlice returns the slice's start: the job's first run of the slice reads the records and
// saves the reading in the slice's part folder (named by job, so a later job into the same
// output makes its own), later runs read the saved one. A run killed before the save had
// written nothing.
func startSlice(ctx context.Context, t *dist.Task, out, part string, first, limit int) (sliceStart, error) {
	saved := storage.Join(part, "start-"+t.Job.ID+".json")
	var s sliceStart
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

// sliceStats turns the stats of a slice's last run into the stats of everything the job did for
// the slice. The last run skips what a run before it in the same job recorded, so its counts
// alone would lose those items; the records count every item once. Items recorded before the
// job are "skipped", as a single-machine run counts what an earlier run did. The slice's run
// time starts with its first run; downloaded bytes stay those of the last run (nothing records
// a cut-off run's).
func sliceStats(last fetch.Stats, count int64, start sliceStart, byJob fetch.Recorded) fetch.Stats {
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
	return st
}

// finalizeFetch writes the output folder's manifest.json, sizes.json, fetch.json and the summed
// stats.json over the shards the slices wrote there, and removes the working files. Run again
// (a redelivered final step), it writes the same files.
func finalizeFetch(ctx context.Context, f *dist.Final) (any, error) {
	spec, err := decodeFetchSpec(f.Job.Spec)
	if err != nil {
		return nil, err
	}
	out := spec.Config.Out
	// Temporary files of a slice that failed for good (no task writes any more); object
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
		st.Error = fmt.Sprintf("%d of %d slices failed (run `wit fetch --in %s --out %s` to fetch their items): %s",
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
