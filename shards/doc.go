// Package shards is the Arrow IPC layer every wit stage shares.
//
// A stage appends rows to a Writer; the Writer buffers them into record batches and writes them to
// a numbered file ("00000.arrow", "00001.arrow", ...) in its directory, rotating to the next file
// every RowsPerFile rows or MaxFileBytes bytes. Each file is written under a temporary name
// ("00003.arrow.tmp-<random>"), fsynced, and only then renamed to its final name, so a reader that
// lists a directory never sees half a file. The BeforeCommit hook lets a stage record, atomically
// with its own state, that a file is complete before it becomes visible; this is how the crawler
// resumes exactly once after a kill.
//
// Every batch is written with a CRC-32C of its content in the batch's IPC metadata, and each
// file's schema with a CRC of its own (checksum.go); Arrow readers ignore both. File.Batch checks
// them, and bounds-checks the footer and each batch's message before arrow-go reads it, so a
// changed byte is an error wrapping ErrCorrupt (ErrChecksum), never wrong data or a crash.
// Shards written before checksums read as before.
//
// Readers (ReadFile, ReadDir) stream record batches with optional column projection and hold one
// batch at a time, so memory stays flat for any dataset size.
//
// The Loader streams the samples of a shard directory in a seeded, resumable order: shard and buffer
// shuffles, a split across workers, and a Position from which a resumed stream yields exactly
// what the uninterrupted one would have. train's Loader (decode, augment, batch) is its only
// consumer, yet it belongs to the format: it reads the files through this package's internals (row
// counts from the footers, column projection, every column type), and its Position is saved in every
// checkpoint's state.json, which package checkpoint (used by inference too) must read without train.
//
// Image shards (SampleSchema, samples.go) carry a manifest.json and OpenCLIP's sizes.json beside
// NNNNN.arrow and NNNNN_stats.json. Verify checks every file (structure, batches, checksums,
// keys, image headers, counts against the manifest and stats), Inspect and ComputeStats summarise them, and
// Export writes webdataset tars or Parquet files, resumably.
//
// PairSchema is the contract between the crawler and later stages: one row per candidate
// (image URL, caption) pair, see the constants Col*.
package shards
