// Package tokenizer is the byte-level BPE tokenizer of wit's CLIP text tower (GPT-2 / CLIP style).
//
// # Data flow
//
//	caption ─ strings.ToLower ─ pre-tokenise (GPT-2's pattern: contractions, " ?letters", " ?numbers",
//	          " ?other", whitespace runs) ─ each piece's UTF-8 bytes ─ BPE merges by rank ─ ids
//	Encode:   [<start_of_text>] ids… [<end_of_text>] 0 0 … (exactly contextLength ids; truncation keeps
//	          the end token last, as OpenAI's clip.tokenize(truncate=True) does)
//
// Ids 0–255 are the bytes themselves, merge i gets id 256+i, and the two special tokens come last:
// <start_of_text> = VocabSize()-2 and <end_of_text> = VocabSize()-1, the largest id, which the model
// relies on (model/text.go finds the end token as each row's argmax). Padding is 0; Decode stops at
// the end token. Every byte sequence is representable, so Decode(Encode(x)) == strings.ToLower(x)
// whenever the caption fits the context. Unlike OpenAI's CLIP tokenizer, whitespace is kept (as
// GPT-2 keeps it: a leading space belongs to the next word), which makes the round trip exact; text
// that looks like a special token is encoded as plain bytes, never as the special token.
//
// Train learns the merges from captions: Counter.AddAll takes any iter.Seq[string] (the caller
// builds it; shards.Captions streams the "caption" column of a shard folder), so the package
// depends on no data format. Pieces are counted once, then each merge updates pair counts only
// in the words that contain the merged pair (a lazy max-heap picks the next pair), so 100k
// captions train in seconds.
// Ties between equally frequent pairs go to the smaller pair of ids, so training is deterministic.
//
// Save/Load use a JSON file (tok.json): the merges in GPT-2's printable byte alphabet (bytes mapped
// to unicode characters, so "Ġ" is a space) plus the special tokens. The trainer copies it into every
// checkpoint so a checkpoint is self-contained.
package tokenizer
