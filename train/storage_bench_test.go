package train

import (
	stdctx "context"
	"os"
	"path/filepath"
	"testing"

	"github.com/witdata/wit/internal/storage"
	"github.com/witdata/wit/internal/storage/s3test"
	"github.com/witdata/wit/model"
)

// storageBenchPreset is a model whose step (~0.5 s on two cores) asks the loader for samples
// faster than clip-tiny does, so that waiting for data would show.
const storageBenchPreset = `model:
  name: storage-bench
  embed_dim: 64
  image_resolution: 64
  vision_layers: 2
  vision_width: 64
  vision_patch_size: 16
  vision_heads: 2
  context_length: 16
  vocab_size: 1024
  transformer_width: 64
  transformer_heads: 2
  transformer_layers: 2
train:
  batch_size: 32
  learning_rate: 0.0005
  min_learning_rate: 0.00005
  warmup_steps: 2
  steps: 16
  weight_decay: 0.2
  beta1: 0.9
  beta2: 0.98
  epsilon: 1.0e-6
`

// BenchmarkTrainDataWait trains the same steps from shards on local disk and in the in-process
// S3 server (the loader prefetches remote shard files) and reports the trainer's DataWaitFrac.
func BenchmarkTrainDataWait(b *testing.B) {
	preset, err := model.ParseFile([]byte(storageBenchPreset))
	if err != nil {
		b.Fatal(err)
	}
	local, _ := benchShards(b, 1024, 256)
	_, bucket := s3test.Start(b, "bench")
	remote := storage.Join(bucket, "shards")
	ctx := stdctx.Background()
	rd, _ := storage.Open(ctx, remote)
	entries, _ := os.ReadDir(local)
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(local, e.Name()))
		if err != nil {
			b.Fatal(err)
		}
		if err := storage.Put(ctx, rd, e.Name(), data); err != nil {
			b.Fatal(err)
		}
	}
	for _, c := range []struct{ name, dir string }{{"disk", local}, {"s3", remote}} {
		b.Run(c.name, func(b *testing.B) {
			var res *Result
			for b.Loop() {
				tr := &Trainer{Preset: preset, Options: Options{Shards: c.dir, Out: b.TempDir(), CheckpointEvery: 1 << 30,
					ShuffleBuffer: 512, NoProgress: true}}
				var err error
				if res, err = tr.Train(ctx); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(res.DataWaitFrac*100, "data_wait_%")
			b.ReportMetric(res.Elapsed.Seconds()/float64(res.StepsRun), "s/step")
		})
	}
}
