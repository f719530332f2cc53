// Package inference runs a trained checkpoint: it loads one (package checkpoint) and embeds images and
// texts with its towers (package model), for package eval, `wit embed`, `wit score`, `wit eval` and
// the demo. It holds CLIP's image preprocessing too, which the trainer's loader shares (as OpenCLIP's
// open_clip holds the transforms its open_clip_train uses); it never imports the trainer.
//
// # Data flow
//
//	LoadCheckpoint(dir): run folder (latest) or checkpoint folder → checkpoint.Read (state, tokenizer,
//	  variables) → model.New(state.Model) → image and text graphs compiled once for a fixed batch
//	  (DefaultEmbedBatch; shorter batches are padded), every weight checked to come from the file
//	EmbedImages: encoded JPEG/PNG/GIF → DecodeImage (header first, pixel limit; parallel) →
//	  CenterSquare → Resampler (antialiased resize to the model's resolution, CLIP mean/std) →
//	  image tower → L2-normalised rows
//	EmbedTexts: the checkpoint's tokenizer (truncated to the context length) → text tower →
//	  L2-normalised rows
//
//	e, err := inference.LoadCheckpoint("runs/tiny")      // a run folder (latest) or a checkpoint folder
//	e.Config, e.Tokenizer, e.State                        // model config, tokenizer, training state
//	img, err := e.EmbedImages([][]byte{jpeg1, jpeg2})     // [][]float32, L2-normalised, len Dim()
//	txt, err := e.EmbedTexts([]string{"a photo of a dog"})
//	logits = e.LogitScale() · dot(img[i], txt[j])
//
// An undecodable image gets a nil row and an *ImageErrors (each wrapping ErrImage); the others still
// embed. EmbedDecoded takes decoded images, EmbedPixels preprocessed tiles (PreprocessImage).
//
// The pure-Go GoMLX backend by default (gomlxfix.NewBackend); LoadCheckpointWithBackend takes
// another (XLA with `-tags xla`, see internal/gomlxfix).
package inference
