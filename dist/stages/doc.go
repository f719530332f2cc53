// Package stages runs wit's stages as distributed jobs on package dist: it registers the task
// kinds (what a worker does with a task) and the submit functions that split a stage's work
// into tasks. Outputs go to storage every worker sees (an s3:// URL or a shared path, through
// internal/storage and the stages' own writers), so a distributed job leaves the same files a
// single-machine run does, each appearing under its final name only when complete.
//
// # fetch
//
// SubmitFetch reads the input once and splits its items by image host (fetch.HostKey, FNV mod
// Partitions; local files by position) into <out>/_dist/items/PPPPP-CCCCC.jsonl, each item with
// its input position (memory: a chunk per partition, written at 1 MiB or when all chunks together
// pass 64 MiB). A task is one partition, or several whose items together first reach
// SamplesPerShard (so a small input does not become hundreds of small shards). It runs
// fetch.RunPositioned on their items with its own range of shard numbers (FirstShard..ShardLimit,
// 2 per SamplesPerShard items plus a reserve for cut-off runs): its shards and records go straight
// into <out> under their final names (fetch.Config.ShardDir), its own manifest, stats and
// fetch.json into <out>/_dist/parts/TTTTT. All of a host's images are in one task, held by one
// worker at a time, so PerHost, Delay and robots' opt-outs hold across machines as on one. A
// redelivered task resumes from the records of its range (nothing fetched or written twice) and no
// two tasks write the same name. A task's counts come from the records of its range, read when the
// job first runs it and again after its last run (fetch.ReadRecorded): a rerun skips what a
// cut-off run recorded, yet every item is counted once, as done by the job. The final step writes
// fetch.json, manifest.json and sizes.json over every shard of <out>, then the summed stats.json,
// and removes _dist. Keys stay those of the files the rows are in; shard numbers may have gaps.
// The records hold input positions, so `wit fetch --in INPUT --out OUT` resumes the result like
// its own.
//
// # crawl (Nutch-style)
//
// SubmitCrawl submits one lease task per partition of the hosts (crawl.PartitionOf: FNV of the
// registered domain, mod Partitions). Partition p is crawled by crawl.Run with
//
//	State  <state>/pNNNN            pebble: visited set, frontier, in flight, pending pairs, outbox
//	                                (s3:// state: on the holder's disk, saved per lease; crawlstate.go)
//	Out    <out>/_dist/parts/pNNNN  its pair files and stats.json
//	Local  PartitionOf(host) == p   seeds and links of other hosts are not crawled here
//	Forward                         outbox batch -> wit.inbox.<job>.pQQQQ per owner (msg ID
//	                                job.pNNNN.oSEQ.pQQQQ), then a wake of pQQQQ
//	Inbox                           durable consumer of wit.inbox.<job>.pNNNN
//
// One worker at a time holds a partition: its task message stays un-acked, heartbeated, for as
// long as the crawl runs, and the stream holds one message per partition, so a host's requests,
// delays and robots.txt are decided in one process. Links to other partitions are written to
// the outbox in the batch of the page that found them and deleted after the publish is
// acknowledged; received links are admitted in a synced batch before the inbox message is
// acked. A forwarded link is therefore always in the sender's outbox, in the inbox, or in the
// receiver's state: a worker killed at any moment loses nothing, and the next holder (after the
// ack wait) opens the same state and continues. Duplicates (a batch forwarded twice) are
// dropped by the message ID or by the receiver's visited set.
//
// Termination: a partition's crawl ends when its frontier, in-flight set, outbox and inbox are
// empty. It then acks its message, re-checks its inbox (a sender's wake is refused while the
// message is held, so the partition wakes itself when links arrived meanwhile) and checks the
// whole job: no partition message queued or held and no inbox message left means nothing can
// create work any more, and the last partition to ack enqueues the final step. The final step
// moves (on object storage: copies) the pair files into <out> as 00000.arrow... in partition
// order (a plan file makes it resumable), writes the summed stats.json and removes _dist. A partition that fails for good has its
// inbox dropped (logged) so that the job can end.
//
// # filter (MetaCLIP's steps)
//
// SubmitFilter runs filter's distributed steps (filter/dist.go) as three jobs, each submitted by
// the final step of the one before (dist.Next; wit submit --wait follows them):
//
//	filter.map     one task per input file: the caption stages; survivors with pair key, entry
//	               ids and input position into <work>/map/FFFFF/dKKKK by pair key
//	filter.dedup   one task per key partition (its only owner): first occurrence in input order
//	               kept, entry counts into <work>/counts/dKKKK.counts; final step: the one
//	               reduce (total.counts)
//	filter.sample  one task per partition: ExactBalancer with the global counts; final step:
//	               merge into input order, write Out and filter-stats.json as filter.Run does
//
// <work> is .<out>.dist beside Out (a path or a folder of the same bucket), removed at the end. The stages are built once per worker
// process (filter.StageOptions) and shared by its tasks.
//
// # build
//
// SubmitBuild is a pipeline of the three: the crawl job carries the filter's and the fetch's
// options (CrawlSpec.Then), its final step submits the filter, whose last step submits the
// fetch (FilterSpec.ThenFetch). Each stage ends before the next starts, so balancing is exact.
package stages
