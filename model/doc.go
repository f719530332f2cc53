// Package model is CLIP (Radford et al. 2021, OpenAI's model.py) on GoMLX: a Vision Transformer image
// encoder and a causal Transformer text encoder trained with a symmetric contrastive loss.
//
// # Data flow
//
//	images [B,R,R,3] f32 ─ visual: patchify (reshape+matmul) → [class; patches] + positions → ln_pre →
//	                        pre-LN blocks (attention, MLP 4×W, QuickGELU) → ln_post(class) → proj ─┐
//	tokens [B,L] int32  ─ text: token + position embeddings → causal pre-LN blocks → ln_final →     │
//	                        features at EOT (argmax id) → text_projection ───────────────────────────┤
//	                      L2-normalise both; logits = exp(min(logit_scale, ln100))·img·txtᵀ; loss =
//	                      mean of row-wise and column-wise cross-entropy (matching pairs on the diagonal)
//
// Images are channels-last, already normalised with CLIP's mean/std. Tokens hold start, caption, end,
// then padding; the end-of-text token must be the vocabulary's largest id (as in CLIP's tokenizer), so
// its position is the row's argmax. Slice is kept off every differentiable path (its GoMLX VJP needs
// Pad, which the pure-Go backend lacks): the class and EOT tokens are selected by one-hot contractions,
// q/k/v have separate projections. internal/gomlxfix additionally registers a Pad-free Slice VJP.
//
// # For the trainer
//
//	f, _ := model.LoadFile("configs/clip-tiny.yaml")       // f.Model (architecture), f.Train (hyper)
//	m, _ := model.New(f.Model)
//	backend, _ := gomlxfix.NewBackend()                     // pure Go, deadlock-free on 2 cores
//	ctx := context.New(); ctx.SetRNGStateFromSeed(seed)
//	opt, _ := gomlxfix.NewAdamW(gomlxfix.AdamWConfig{LR: &gomlxfix.CosineWarmup{...}, ...})
//	step := context.MustNewExec(backend, ctx, m.TrainStep(opt))
//	out := step.MustExec(images, tokens)                   // out[0] loss, out[1] logit scale (ln)
//
// Everything that must survive a checkpoint is a context variable, so saving the context (GoMLX's
// checkpoints package, or any writer over ctx.IterVariables) captures the exact training state:
//
//	/visual/…, /text/…, /logit_scale       model weights (names follow OpenAI's model.py)
//	/adamw/<var path>_m, _v                 AdamW moments; /adamw/step, /adamw/learning_rate
//	/global_step                            GoMLX's step counter; plus the context RNG state
//	/accumulate/count, /accumulate/<path>   only with TrainStepAccumulated
//
// Gradient accumulation: context.MustNewExec(backend, ctx, m.TrainStepAccumulated(opt, k)) — every call
// takes a micro-batch, every k-th applies AdamW to the mean gradient (state in /accumulate/…; out[2]
// says whether it applied). Variable tensors are donated to the next execution: clone a value
// (Tensor.LocalClone) before keeping it across steps, e.g. for a background checkpoint write.
// BuildImageEmbeddings / BuildTextEmbeddings serve evaluation, `wit embed` and `wit score`.
package model
