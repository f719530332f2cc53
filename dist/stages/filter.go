package stages

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/witdata/wit/dist"
	"github.com/witdata/wit/filter"
	"github.com/witdata/wit/internal/storage"
	"github.com/witdata/wit/shards"
)

// Kinds of a distributed filter: three jobs, each submitted by the final step of the one before.
const (
	KindFilterMap    = "filter.map"    // one task per input file: the per-caption stages
	KindFilterDedup  = "filter.dedup"  // one task per key partition: dedup and entry counts
	KindFilterSample = "filter.sample" // one task per key partition: balancing with global counts
)

// FilterSpec is a distributed filter's spec (the three jobs share it; Phase tells them apart).
type FilterSpec struct {
	In          string              `yaml:"in"`
	Out         string              `yaml:"out"`
	Work        string              `yaml:"work"` // <out's parent>/.<out's name>.dist: staged rows, counts (removed at the end)
	Files       []string            `yaml:"files"`
	CaptionCol  string              `yaml:"caption_col"`
	URLCol      string              `yaml:"url_col,omitempty"`
	ExtraCols   []string            `yaml:"extra_cols,omitempty"`
	NoDedup     bool                `yaml:"no_dedup,omitempty"`
	Threshold   int                 `yaml:"threshold"`
	Seed        uint64              `yaml:"seed"`
	RowsPerFile int                 `yaml:"rows_per_file"`
	Workers     int                 `yaml:"workers,omitempty"`
	StatsJSON   string              `yaml:"stats_json,omitempty"`
	Partitions  int                 `yaml:"partitions"`
	Stages      filter.StageOptions `yaml:"stages"`
	Phase       string              `yaml:"phase"`
	MapJob      string              `yaml:"map_job,omitempty"`
	DedupJob    string              `yaml:"dedup_job,omitempty"`
	ThenFetch   *FetchThen          `yaml:"then_fetch,omitempty"` // a distributed build's fetch
}

// SubmitFilter submits a filter in exact mode as MetaCLIP's three parallel steps: the per-caption
// stages per input file, dedup and entry counts per key partition (one owner per key), then, with
// the counts added up once, balancing per partition; the final step merges the kept rows back
// into input order. The output equals `wit filter --mode exact` on the same input. In and Out must
// be where every worker sees them: s3:// URLs or shared paths.
func SubmitFilter(ctx context.Context, c *dist.Conn, opts filter.Options, set filter.StageOptions, partitions int) (*dist.JobRecord, error) {
	return submitFilter(ctx, c, opts, set, partitions, nil)
}

func submitFilter(ctx context.Context, c *dist.Conn, opts filter.Options, set filter.StageOptions, partitions int, then *FetchThen) (*dist.JobRecord, error) {
	if opts.Mode != "" && opts.Mode != filter.ModeExact {
		return nil, errors.New("submit filter: the distributed filter balances in exact mode (--mode exact)")
	}
	if opts.KeepAll {
		return nil, errors.New("submit filter: --keep-all runs on one machine")
	}
	if partitions <= 0 {
		partitions = 16
	}
	spec := FilterSpec{CaptionCol: opts.CaptionCol, URLCol: opts.URLCol, ExtraCols: opts.ExtraCols, NoDedup: opts.NoDedup,
		Threshold: opts.Threshold, Seed: opts.Seed, RowsPerFile: opts.RowsPerFile, Workers: opts.Workers, Partitions: partitions,
		Stages: set, Phase: KindFilterMap, ThenFetch: then}
	var err error
	if spec.In, err = jobLocation("in", opts.In); err != nil {
		return nil, err
	}
	if spec.Out, err = jobLocation("out", opts.Out); err != nil {
		return nil, err
	}
	if opts.StatsJSON != "" {
		if spec.StatsJSON, err = jobLocation("stats-json", opts.StatsJSON); err != nil {
			return nil, err
		}
	}
	outDir, err := storage.Open(ctx, spec.Out)
	if err != nil {
		return nil, fmt.Errorf("submit filter: %w", err)
	}
	if entries, err := outDir.List(ctx, ""); err != nil {
		return nil, fmt.Errorf("submit filter: %w", err)
	} else if len(entries) > 0 {
		return nil, fmt.Errorf("submit filter: output %s exists and is not empty", spec.Out)
	}
	if storage.Parent(spec.Out) == spec.Out {
		return nil, fmt.Errorf("submit filter: output %s: name a folder in the bucket (the work folder goes beside it)", spec.Out)
	}
	spec.Work = storage.Join(storage.Parent(spec.Out), "."+storage.Base(spec.Out)+".dist")
	st, err := storage.Stat(ctx, spec.In)
	if err != nil {
		return nil, fmt.Errorf("submit filter: input: %w", err)
	}
	if st.IsDir {
		if spec.Files, err = shards.ListFiles(spec.In); err != nil {
			return nil, err
		}
		if len(spec.Files) == 0 {
			return nil, fmt.Errorf("submit filter: input %s: no committed .arrow files", spec.In)
		}
	} else {
		spec.Files = []string{spec.In}
	}
	tasks := make([]json.RawMessage, len(spec.Files))
	for i := range spec.Files {
		tasks[i], _ = json.Marshal(map[string]int{"file": i})
	}
	return submitFilterPhase(ctx, c, &spec, KindFilterMap, tasks)
}

func submitFilterPhase(ctx context.Context, c *dist.Conn, spec *FilterSpec, phase string, tasks []json.RawMessage) (*dist.JobRecord, error) {
	spec.Phase = phase
	text, err := yaml.Marshal(spec)
	if err != nil {
		return nil, err
	}
	return c.Submit(ctx, dist.Submission{Kind: phase, Spec: string(text), Tasks: tasks})
}

func decodeFilterSpec(text string) (*FilterSpec, error) {
	var spec FilterSpec
	dec := yaml.NewDecoder(strings.NewReader(text))
	dec.KnownFields(true)
	if err := dec.Decode(&spec); err != nil {
		return nil, dist.Permanent(fmt.Errorf("filter job spec: %w", err))
	}
	return &spec, nil
}

// filterStages caches the built stages per process: the language models take seconds to load
// and are shared by every task with the same settings.
var filterStages struct {
	sync.Mutex
	built map[string]filter.Stages
}

func (s *FilterSpec) options(ctx context.Context, log *slog.Logger) (filter.Options, error) {
	key, _ := yaml.Marshal(s.Stages)
	filterStages.Lock()
	defer filterStages.Unlock()
	st, ok := filterStages.built[string(key)]
	if !ok {
		var err error
		if st, err = s.Stages.Stages(log); err != nil {
			return filter.Options{}, dist.Permanent(err)
		}
		if filterStages.built == nil {
			filterStages.built = map[string]filter.Stages{}
		}
		filterStages.built[string(key)] = st
	}
	return filter.Options{In: s.In, Out: s.Out, CaptionCol: s.CaptionCol, URLCol: s.URLCol, ExtraCols: s.ExtraCols,
		Stages: st, NoDedup: s.NoDedup, Threshold: s.Threshold, Seed: s.Seed, Mode: filter.ModeExact,
		RowsPerFile: s.RowsPerFile, Workers: s.Workers}, nil
}

func (s *FilterSpec) mapDir(file int) string {
	return storage.Join(s.Work, "map", fmt.Sprintf("%05d", file))
}
func (s *FilterSpec) dedupDir(k int) string {
	return filter.PartitionDir(storage.Join(s.Work, "dedup"), k)
}
func (s *FilterSpec) countsFile(k int) string {
	return storage.Join(s.Work, "counts", fmt.Sprintf("d%04d.counts", k))
}
func (s *FilterSpec) sampleDir(k int) string {
	return filter.PartitionDir(storage.Join(s.Work, "sample"), k)
}
func (s *FilterSpec) totalCounts() string { return storage.Join(s.Work, "counts", "total.counts") }

type partitionTask struct {
	Partition int `json:"partition"`
}

func partitionTasks(n int) []json.RawMessage {
	out := make([]json.RawMessage, n)
	for k := range out {
		out[k], _ = json.Marshal(partitionTask{Partition: k})
	}
	return out
}

func runFilterMap(ctx context.Context, t *dist.Task) (any, error) {
	spec, err := decodeFilterSpec(t.Job.Spec)
	if err != nil {
		return nil, err
	}
	var in struct {
		File int `json:"file"`
	}
	if err := t.DecodeInput(&in); err != nil {
		return nil, err
	}
	opts, err := spec.options(ctx, t.Log)
	if err != nil {
		return nil, err
	}
	opts.In = spec.Files[in.File]
	return filter.MapFile(ctx, opts, in.File, spec.Partitions, spec.mapDir(in.File))
}

// finalizeFilterMap submits the dedup job.
func finalizeFilterMap(ctx context.Context, f *dist.Final) (any, error) {
	spec, err := decodeFilterSpec(f.Job.Spec)
	if err != nil {
		return nil, err
	}
	if err := failedTasks(f); err != nil {
		return nil, err
	}
	spec.MapJob = f.Job.ID
	job, err := submitFilterPhase(ctx, f.Conn, spec, KindFilterDedup, partitionTasks(spec.Partitions))
	if err != nil {
		return nil, err
	}
	return dist.Next{Job: job.ID}, nil
}

// failedTasks refuses to go on when a task failed: the output would silently miss its rows.
func failedTasks(f *dist.Final) error {
	var failed []string
	for id, o := range f.Outcomes {
		if o.State != dist.StateDone {
			failed = append(failed, id+": "+o.Error)
		}
	}
	if len(failed) > 0 {
		return dist.Permanent(fmt.Errorf("%d tasks failed (wit jobs lists them); resubmit the filter to retry them: %s", len(failed), strings.Join(failed, "; ")))
	}
	return nil
}

// partitionSetup reads what a dedup or sample task needs: its job's spec, its partition and the
// filter options the spec describes.
func partitionSetup(ctx context.Context, t *dist.Task) (*FilterSpec, partitionTask, filter.Options, error) {
	var in partitionTask
	spec, err := decodeFilterSpec(t.Job.Spec)
	if err != nil {
		return nil, in, filter.Options{}, err
	}
	if err := t.DecodeInput(&in); err != nil {
		return nil, in, filter.Options{}, err
	}
	opts, err := spec.options(ctx, t.Log)
	return spec, in, opts, err
}

func runFilterDedup(ctx context.Context, t *dist.Task) (any, error) {
	spec, in, opts, err := partitionSetup(ctx, t)
	if err != nil {
		return nil, err
	}
	inputs := make([]string, len(spec.Files))
	for i := range spec.Files {
		inputs[i] = filter.PartitionDir(spec.mapDir(i), in.Partition)
	}
	return filter.DedupPartition(ctx, opts, inputs, spec.dedupDir(in.Partition), spec.countsFile(in.Partition))
}

// finalizeFilterDedup is the one reduce: the partitions' entry counts added up; then the
// sampling job is submitted.
func finalizeFilterDedup(ctx context.Context, f *dist.Final) (any, error) {
	spec, err := decodeFilterSpec(f.Job.Spec)
	if err != nil {
		return nil, err
	}
	if err := failedTasks(f); err != nil {
		return nil, err
	}
	files := make([]string, spec.Partitions)
	for k := range files {
		files[k] = spec.countsFile(k)
	}
	total, err := filter.SumCounts(files)
	if err != nil {
		return nil, err
	}
	if err := filter.WriteCounts(spec.totalCounts(), total); err != nil {
		return nil, err
	}
	spec.DedupJob = f.Job.ID
	job, err := submitFilterPhase(ctx, f.Conn, spec, KindFilterSample, partitionTasks(spec.Partitions))
	if err != nil {
		return nil, err
	}
	return dist.Next{Job: job.ID}, nil
}

func runFilterSample(ctx context.Context, t *dist.Task) (any, error) {
	spec, in, opts, err := partitionSetup(ctx, t)
	if err != nil {
		return nil, err
	}
	counts, err := filter.ReadCounts(spec.totalCounts())
	if err != nil {
		return nil, err
	}
	dropped, err := filter.SamplePartition(ctx, opts, counts, spec.dedupDir(in.Partition), spec.sampleDir(in.Partition))
	return map[string]int64{"balanced": dropped}, err
}

// finalizeFilterSample merges the kept rows into the output directory with filter-stats.json.
func finalizeFilterSample(ctx context.Context, f *dist.Final) (any, error) {
	spec, err := decodeFilterSpec(f.Job.Spec)
	if err != nil {
		return nil, err
	}
	if err := failedTasks(f); err != nil {
		return nil, err
	}
	opts, err := spec.options(ctx, f.Log)
	if err != nil {
		return nil, err
	}
	if _, err := storage.Stat(ctx, storage.Join(spec.Out, filter.StatsFile)); err == nil {
		// Merged by an earlier run of this step.
		if err := storage.RemoveAll(ctx, spec.Work); err != nil {
			return nil, err
		}
		if spec.ThenFetch != nil {
			next, err := afterFilter(ctx, f.Conn, spec)
			if err != nil {
				return nil, err
			}
			return dist.Next{Job: next.ID}, nil
		}
		return nil, nil
	}
	mapOut, err := f.Conn.Outcomes(ctx, spec.MapJob)
	if err != nil {
		return nil, err
	}
	var parts []*filter.Stats
	for _, o := range mapOut {
		var st filter.Stats
		if err := json.Unmarshal(o.Result, &st); err != nil {
			return nil, dist.Permanent(fmt.Errorf("map result: %w", err))
		}
		parts = append(parts, &st)
	}
	dedupOut, err := f.Conn.Outcomes(ctx, spec.DedupJob)
	if err != nil {
		return nil, err
	}
	var dups, balanced int64
	for _, o := range dedupOut {
		var r filter.DedupResult
		if err := json.Unmarshal(o.Result, &r); err != nil {
			return nil, dist.Permanent(fmt.Errorf("dedup result: %w", err))
		}
		dups += r.Duplicates
	}
	for _, o := range f.Outcomes {
		var r map[string]int64
		if err := json.Unmarshal(o.Result, &r); err != nil {
			return nil, dist.Permanent(fmt.Errorf("sample result: %w", err))
		}
		balanced += r["balanced"]
	}
	counts, err := filter.ReadCounts(spec.totalCounts())
	if err != nil {
		return nil, err
	}
	stats := filter.MergeStats(opts, parts, dups, balanced)
	sampled := make([]string, spec.Partitions)
	for k := range sampled {
		sampled[k] = spec.sampleDir(k)
	}
	started := time.Now()
	if mapJob, err := f.Conn.Job(ctx, spec.MapJob); err == nil {
		started = mapJob.Created
	}
	if _, err := storage.Stat(ctx, storage.Join(spec.Out, storage.IncompleteMarker)); err == nil {
		// An earlier run of this step was cut off while writing Out on object storage.
		if err := storage.RemoveAll(ctx, spec.Out); err != nil {
			return nil, err
		}
	}
	if err := filter.MergeOutput(ctx, opts, sampled, stats, counts, started); err != nil {
		return nil, err
	}
	if spec.StatsJSON != "" {
		if err := storage.WriteJSON(ctx, spec.StatsJSON, stats); err != nil {
			return nil, err
		}
	}
	if err := storage.RemoveAll(ctx, spec.Work); err != nil {
		return nil, err
	}
	if spec.ThenFetch != nil {
		next, err := afterFilter(ctx, f.Conn, spec)
		if err != nil {
			return nil, err
		}
		return dist.Next{Job: next.ID}, nil
	}
	return map[string]int64{"rows": stats.Rows, "kept": stats.Kept}, nil
}
