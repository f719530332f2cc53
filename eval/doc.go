// Package eval measures CLIP embeddings: zero-shot classification with prompt-template ensembling
// and image–text retrieval, in pure Go on embedding matrices (no model needed, so it is fast and
// testable on hand-made vectors).
//
// # Data flow
//
//	class names × templates ─ Prompts ─ (text tower) ─ Matrix ─ ClassWeights ─┐
//	images ─ (image tower) ─ Matrix ───────────────────────────────────────────┴─ ZeroShot → top-k
//	images, captions ─ (towers) ─ two Matrix + []Link ─ Retrieval → recall@k both ways
//
// The towers are not in this package: anything with EmbedImages/EmbedTexts/Dim (an Embedder;
// inference.Embedder, loaded by inference.LoadCheckpoint, is one) feeds the pipelines that `wit eval`,
// `wit embed` and `wit score` (cmd/wit) wire to flags:
//
//	ImageDir (class subfolders) | ShardDir (image shards) ─ Record stream ─ EmbedRecords (chunks;
//	    unusable images skipped and listed) ─┬─ RunZeroShot   (labels matched to a class list)
//	                                         ├─ RunRetrieval  (images deduplicated by SHA-256,
//	                                         │                 captions by text)
//	                                         ├─ WriteImageEmbeddings / WriteTextEmbeddings
//	                                         │    (Arrow via shards.Writer, fixed_size_list<float32>)
//	                                         └─ Score / ScoreRecords (clip_score column, --min-score)
//
// Writers stream chunk by chunk (memory bounded by one chunk and one record batch); the
// evaluations hold one embedding per image and text.
//
// # Protocol
//
// Similarities are cosines (rows are L2-normalised on a copy; all-zero rows stay zero and tie with
// everything). Zero-shot follows the CLIP paper and OpenAI's notebook: every class's prompts
// ("an emoji of {}.", ...) are embedded and normalised, averaged and renormalised into one weight per
// class; an image's class ranking is its cosine with each weight. Retrieval follows OpenCLIP's
// protocol, generalised to many-to-many links: a text query hits at k when any image linked to it is
// among the first k images, and the other way round (COCO's five captions per image, or several
// images per class name).
//
// Ties are broken uniformly at random, in expectation: with a above the best linked candidate and
// a group of t unlinked and r linked candidates tied with it, the hit probability at k is
// 1 − Π_{i<k−a} (t−i)/(t+r−i). A collapsed model (all embeddings equal) therefore scores exactly
// chance rather than a perfect (optimistic ties) or zero (pessimistic) recall. Every figure comes
// with its chance level, and zero-shot also with a majority-class baseline and balanced accuracy.
//
// Scoring streams blocks of 16 queries over the gallery on GOMAXPROCS goroutines; memory is the two
// matrices plus 16 score rows per goroutine, so 100k × 100k retrieval fits (it is quadratic time).
package eval
