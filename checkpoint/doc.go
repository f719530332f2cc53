// Package checkpoint is the on-disk format of a training checkpoint: the one place that writes and
// reads it. The trainer (package train) saves and resumes through it; inference (package inference)
// loads through it.
//
// # Layout
//
//	<run>/checkpoints/step-NNNNNNNNN/
//	  state.json     State: step, samples, data Position, corrupt images, the trainer's options,
//	                 model config, and the index of variables.bin
//	  variables.bin  every context variable's raw little-endian bytes, in the context's creation
//	                 order (weights, optimizer moments and step, GoMLX's global step and RNG state)
//	  tok.json       the tokenizer
//	  config.yaml    the model config and training hyperparameters (a preset, model.File)
//
// # Data flow
//
//	Save: context variables → variables.bin (CRC32 per variable) + state.json + tok.json +
//	      config.yaml in a temp folder → fsync → rename to step-NNNNNNNNN (a crash leaves the previous
//	      checkpoints and at worst a temp folder, removed by CleanTemp)
//	Read: run folder (its latest checkpoint, Resolve) or checkpoint folder → state.json → model config
//	      validated → tokenizer → a fresh context holding every variable with its saved value,
//	      trainability and order (checksums checked)
//
// State.Options is kept as raw JSON: only the trainer reads its options back, so this package does
// not depend on the trainer and inference does not pull it in. List, Prune and Name manage a run
// folder's checkpoints.
package checkpoint
