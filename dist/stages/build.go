package stages

import (
	"context"
	"errors"

	"github.com/witdata/wit/build"
	"github.com/witdata/wit/dist"
	"github.com/witdata/wit/fetch"
	"github.com/witdata/wit/filter"
	"github.com/witdata/wit/internal/storage"
)

// Layout of a distributed build's output directory.
const (
	BuildPairs    = "pairs"       // the crawl's pair files
	BuildFiltered = "filtered"    // the filter's kept pairs
	BuildShards   = "shards"      // the image shards
	BuildState    = "state/crawl" // the crawl partitions' state
)

// BuildThen is what a distributed build runs after its crawl: the filter (exact balancing, in
// MetaCLIP's steps) and then the fetch. A crawl job carrying it submits the filter job from its
// final step; the filter's last job submits the fetch job.
type BuildThen struct {
	Stages           filter.StageOptions `yaml:"stages"`
	Threshold        int                 `yaml:"threshold"`
	Seed             uint64              `yaml:"seed"`
	NoDedup          bool                `yaml:"no_dedup,omitempty"`
	FilterOut        string              `yaml:"filter_out"`
	FilterPartitions int                 `yaml:"filter_partitions"`
	Fetch            fetch.Config        `yaml:"fetch"`
	FetchPartitions  int                 `yaml:"fetch_partitions,omitempty"`
}

// FetchThen is the fetch a distributed filter's last step submits (a build's third stage).
type FetchThen struct {
	Fetch      fetch.Config `yaml:"fetch"`
	Partitions int          `yaml:"partitions,omitempty"` // of the image hosts (SubmitFetch)
}

// SubmitBuild runs a build as a pipeline of jobs: the crawl (partitions of the hosts) into
// Out/pairs, the filter with exact balancing into Out/filtered, the fetch into Out/shards. Unlike
// `wit build`, which streams the three stages in one process with online balancing, each stage
// runs to its end before the next, so balancing uses the complete counts; each stage's output
// equals the single-machine command's (wit crawl, wit filter --mode exact, wit fetch).
func SubmitBuild(ctx context.Context, c *dist.Conn, cfg build.Config, partitions, filterPartitions, fetchPartitions int) (*dist.JobRecord, error) {
	if cfg.Seeds == "" || cfg.Out == "" {
		return nil, errors.New("submit build: --seeds and --out are required")
	}
	out, err := jobLocation("out", cfg.Out)
	if err != nil {
		return nil, err
	}
	cr := cfg.Crawl
	cr.Seeds, cr.SeedsCol = cfg.Seeds, cfg.SeedsCol
	cr.Out, cr.State = storage.Join(out, BuildPairs), storage.Join(out, BuildState)
	fo := cfg.Filter
	fe := cfg.Fetch
	fe.Out = storage.Join(out, BuildShards)
	fe.Logger, fe.Progress, fe.Client, fe.ShareLimitsWith = nil, nil, nil, nil
	if filterPartitions <= 0 {
		filterPartitions = 16
	}
	then := &BuildThen{
		Stages:    fo.StageOptions,
		Threshold: fo.Balance, Seed: fo.Seed, NoDedup: fo.NoDedup,
		FilterOut: storage.Join(out, BuildFiltered), FilterPartitions: filterPartitions,
		Fetch: fe, FetchPartitions: fetchPartitions,
	}
	if then.Stages.Queries == "" {
		then.Threshold = 0
	}
	return submitCrawl(ctx, c, cr, partitions, then)
}

// afterCrawl submits a build's filter once its crawl is merged.
func afterCrawl(ctx context.Context, c *dist.Conn, spec *CrawlSpec) (*dist.JobRecord, error) {
	t := spec.Then
	opts := filter.Options{In: spec.Config.Out, Out: t.FilterOut, Threshold: t.Threshold, Seed: t.Seed, NoDedup: t.NoDedup,
		Mode: filter.ModeExact, RowsPerFile: 10000}
	return submitFilter(ctx, c, opts, t.Stages, t.FilterPartitions, &FetchThen{Fetch: t.Fetch, Partitions: t.FetchPartitions})
}

// afterFilter submits a build's fetch once its filter output is merged.
func afterFilter(ctx context.Context, c *dist.Conn, spec *FilterSpec) (*dist.JobRecord, error) {
	cfg := spec.ThenFetch.Fetch
	cfg.InputName = spec.Out
	cfg.BaseDir = spec.Out
	return SubmitFetch(ctx, c, cfg, spec.Out, fetch.InputOptions{}, spec.ThenFetch.Partitions)
}
