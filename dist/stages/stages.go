package stages

import "github.com/witdata/wit/dist"

func init() {
	dist.Register(&dist.Kind{Name: KindFetch, Run: runFetchTask, Finalize: finalizeFetch})
}
