// Package stages runs wit's stages as distributed jobs on package dist: it registers the task
// kinds (what a worker does with a task) and the submit functions that split a stage's work
// into tasks. Outputs go to shared storage (a path every worker sees) through the stages' own
// writers, so a distributed job leaves the same files a single-machine run does.
//
// # fetch
//
// SubmitFetch reads the input once and writes it as slices of SliceSize items
// (<out>/_dist/slices/NNNNN.jsonl); task N runs fetch.Run on slice N into
// <out>/_dist/parts/NNNNN with the slice's input positions (FirstSeq) and its own range of
// shard numbers (FirstShard, 2 per SamplesPerShard items plus a reserve for cut-off runs), so a
// redelivered slice resumes its directory (nothing fetched or written twice) and no two slices
// write the same shard name. The final step moves every slice's records and shards into <out>
// (records first, as fetch commits them), rebuilds manifest.json and sizes.json, writes
// fetch.json and the summed stats.json, and removes _dist. Keys stay those of the files the
// rows are in; shard numbers may have gaps.
package stages
