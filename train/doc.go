// Package train trains wit's CLIP (package model) on image shards into a run folder of checkpoints
// (package checkpoint) that package inference loads for evaluation.
//
// # Data flow
//
//	shards.Loader (seeded shuffle, exact Position) ─ rows {image JPEG, caption}
//	  → reader goroutine numbers rows → Workers goroutines: decode JPEG (pixel limit), random resized
//	    crop (RandomResizedCrop: scale 0.9–1, ratio 3/4–4/3, seeded per sample), antialiased resize to
//	    the model's resolution and CLIP mean/std (inference.Resampler, shared with evaluation),
//	    tokenise (EncodeTo into the batch row)
//	  → orderer restores the loader's order, skips and counts corrupt images, fills batches
//	    [B,R,R,3] float32 (channels-last, what model.BuildImageEmbeddings takes) and [B,L] int32
//	  → bounded channel of ready batches (Prefetch) → Trainer
//
// The loader holds at most Prefetch+2 batches, InFlight sample tiles (default 4×Workers) and the
// shards loader's shuffle buffer, whatever the data set's size (TestLoaderBoundedBuffers). A sample's crop
// depends only on the seed and its position, never on scheduling, so a resumed run sees the same
// pixels as an uninterrupted one.
//
// # Training
//
// Trainer.Train builds model.CLIP with optim.AdamW (package train/optim: β=(0.9, 0.98), ε=1e-6,
// decoupled weight decay 0.2 on weight matrices only, cosine schedule with linear warmup) and clamps
// the logit scale after every update. A run (run.go) is set up once — state from a checkpoint or
// fresh, stepper, loader, metrics, progress — then takes steps until Options.Steps; each step fetches
// Accum micro-batches, runs them through the stepper (step.go), logs and checkpoints on schedule.
// With Accum > 1 each step runs Accum micro-batch graphs that add their gradients into accumulator
// variables (AccumScope), then one graph applies AdamW to the mean gradient; the contrastive loss of
// each micro-batch only sees its own negatives (like OpenCLIP without --accum-freq's feature cache).
//
// A run folder holds:
//
//	config.yaml        the preset as run (model + effective hyperparameters)
//	metrics.jsonl      one object per logged step: step, loss, lr, logit_scale, samples_per_sec,
//	                   epoch, data_wait_frac, corrupt_images, elapsed_s
//	loss.png           the loss curve (written atomically at checkpoints and at the end)
//	tok.json           the tokenizer used (also inside every checkpoint)
//	checkpoints/step-NNNNNNNNN/{state.json, variables.bin, tok.json, config.yaml}
//
// Checkpoints (package checkpoint) are written to a temp folder, fsynced and renamed; the newest Keep
// are kept. A checkpoint holds every context variable (weights, AdamW moments and step, gradient
// accumulators, GoMLX's global step and RNG state) in creation order plus state.json (step, data
// Position, samples, these Options, seed), so Trainer.Resume continues exactly: the next step's loss
// equals an uninterrupted run's (TestResumeExact). How a run ends decides whether it checkpoints:
// finishing, a cancelled context, a data error or a failed metrics/checkpoint write end through
// run.finishWithCheckpoint (a checkpoint of the last completed step, the loss plot, the Result); a
// diverged (NaN) loss or a failed graph execution ends through run.abortWithoutCheckpoint, so the
// latest checkpoint stays a good one.
//
//	tr := &train.Trainer{Preset: preset, Options: train.Options{Shards: dir, Out: run}, Resume: true}
//	res, err := tr.Train(ctx)
//
// # Backends
//
// The pure-Go GoMLX backend by default (gomlxfix.NewBackend); with `-tags xla` and $WIT_PJRT_PLUGIN
// the trainer uses XLA (see internal/gomlxfix). Tests never load or download a plugin.
package train
