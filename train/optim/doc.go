// Package optim is the trainer's optimizer: AdamW with decoupled weight decay as OpenCLIP configures
// it for CLIP, and OpenCLIP's cosine learning-rate schedule with linear warmup.
//
// GoMLX's Adam().WeightDecay decays every variable; AdamW here follows OpenCLIP (β=(0.9, 0.98),
// ε=1e-6, decay 0.2 only on weight matrices: OpenCLIPDecay). The learning rate of update t is
// CosineWarmup.LR(t−1), computed in the graph from the optimizer's own step counter.
//
// # Data flow
//
//	loss (scalar) ─ UpdateGraph: gradients of every trainable variable in use
//	  or gradients given by the caller ─ UpdateGraphWithGradients (train's accumulation apply graph)
//	  → moments m, v and step in the context under AdamWScope → decayed, updated variables
//
// All optimizer state lives in context variables (AdamWScope), so a checkpoint of the context
// (package checkpoint) captures the optimizer exactly and a resumed run continues bit for bit.
package optim
