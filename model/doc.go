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
// vision_stem: conv replaces the patch embedding with 3×3 stride-2 convolutions (layer norm over
// channels, ReLU) and a 1×1 projection, the same token grid (conv.go; im2col by constant 0/1
// selection matrices, so it runs on the fast matrix kernel and needs no ConvGeneral).
//
// Images are channels-last, already normalised with CLIP's mean/std. Tokens hold start, caption, end,
// then padding; the end-of-text token must be the vocabulary's largest id (as in CLIP's tokenizer), so
// its position is the row's argmax. Slice is kept off every differentiable path (its GoMLX VJP needs
// Pad, which the pure-Go backend lacks): the class and EOT tokens are selected by one-hot contractions,
// q/k/v have separate projections. internal/gomlxfix additionally registers a Pad-free Slice VJP.
//
// # Graph functions
//
// CLIP holds no variables: each builder takes the context.Context that holds them, so one context
// (and its checkpoint) carries weights, optimizer state and RNG state together.
//
//	f, _ := model.LoadFile("configs/clip-tiny.yaml")       // f.Model (architecture), f.Train (hyper)
//	m, _ := model.New(f.Model)
//	m.BuildImageEmbeddings(ctx, images)                     // evaluation, `wit embed`, `wit score`
//	m.BuildTextEmbeddings(ctx, tokens)
//	m.Forward(ctx, images, tokens)                          // contrastive loss and logit scale
//	step := context.MustNewExec(backend, ctx, m.TrainStep(opt)) // one optimizer step (opt: train/optim.AdamW)
//	out := step.MustExec(images, tokens)                   // out[0] loss, out[1] logit scale (ln)
//
// The model's variables, named after OpenAI's model.py:
//
//	/visual/…, /text/…, /logit_scale       model weights
//
// The trainer adds its own beside them (optimizer moments, gradient accumulators; see package train
// and train/optim). Variable tensors are donated to the next execution: clone a value
// (Tensor.LocalClone) before keeping it across steps. Training (the data loader, gradient
// accumulation, checkpoints) lives in package train, loading a checkpoint for inference in package
// inference.
package model
