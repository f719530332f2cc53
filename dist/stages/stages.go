package stages

import (
	"log/slog"

	"github.com/witdata/wit/dist"
)

func init() {
	dist.Register(&dist.Kind{Name: KindFetch, Run: runFetchTask, Finalize: finalizeFetch})
	dist.Register(&dist.Kind{Name: KindCC, Run: runCCTask, Finalize: finalizeCC})
}

func init() {
	dist.Register(&dist.Kind{Name: KindCrawl, Lease: true, Run: runCrawlPartition, Finalize: finalizeCrawl, Settle: settleCrawl, Wake: wakeCrawl})
}

func init() {
	dist.Register(&dist.Kind{Name: KindFilterMap, Run: runFilterMap, Finalize: finalizeFilterMap})
	dist.Register(&dist.Kind{Name: KindFilterDedup, Run: runFilterDedup, Finalize: finalizeFilterDedup})
	dist.Register(&dist.Kind{Name: KindFilterSample, Run: runFilterSample, Finalize: finalizeFilterSample})
}

func slogFor(job *dist.JobRecord) *slog.Logger { return slog.Default().With("job", job.ID) }
