// Package dist runs wit's stages across many machines on NATS JetStream: a job is split into
// tasks, workers on any number of machines pull them, and nothing is lost or done twice when a
// worker or the queue server dies.
//
// # Pieces
//
//	wit queue serve      StartServer: an embedded NATS server with JetStream on a file store
//	                     (any NATS 2.10+ server with JetStream works as well)
//	wit submit STAGE     Conn.Submit: the job record and its task messages
//	wit worker           RunWorker: pull, run, record, ack; kinds registered by dist/stages
//	wit jobs             Conn.Status, Conn.Workers
//
// # Protocol
//
// Streams (file storage):
//
//	WIT_TASKS       work queue; subjects wit.task.<job>.<task> (batch tasks) and
//	                wit.lease.<job>.<task> (long-held lease tasks: crawl partitions). At most one
//	                message per subject (DiscardNewPerSubject), so a task is queued or running at
//	                most once at any time; message ID = job.task.N for de-duplication.
//	WIT_INBOX       work queue; wit.inbox.<job>.<partition>: link batches forwarded between
//	                crawl partitions.
//	WIT_ADVISORIES  the server's $JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.WIT_TASKS.* events.
//
// Durable pull consumers: wit-tasks (wit.task.>, ack wait 30 s, 5 deliveries), wit-leases
// (wit.lease.>, 50 deliveries), wit-advisories. Key-value buckets: wit_jobs (job id ->
// JobRecord: kind, the stage's options as YAML, task count), wit_tasks (<job>.s.<task> ->
// TaskRecord, the latest state for wit jobs; <job>.d.<task> -> Outcome, written once;
// <job>.final -> the final step's Outcome; <job>.submitted once every task is enqueued),
// wit_workers (worker id -> WorkerRecord, in memory, expiring 15 s after the last heartbeat).
//
// A task's outcome is the one record of its being done: a job's finished tasks are counted as
// the pending count of wit-count-<job>, a consumer of the job's <job>.d.* keys in the wit_tasks
// bucket that nobody reads (in memory, made on first use, removed by the server 15 minutes after
// its last use). The server keeps the count as outcomes are written, so one request answers
// whatever the job's size, and as each key is written once, a task that ran twice counts once.
// The server counts an outcome just after confirming it, so a count may lag by a moment, never
// exceed.
// (Queues from before this protocol have a stream WIT_DONE of done marks, no longer used.)
//
// IDs: a job's ID is a hash of its kind and spec (the serialized options), a task's ID a hash of
// the job ID and the task's input. Submitting the same job twice therefore enqueues nothing new.
// Submit publishes the task messages 1,000 at a time before waiting for their confirmations; a
// task not confirmed is published again, which its message ID makes harmless.
//
// A worker pulls task messages in batches sized to its free slots. While its tasks are very
// short (those that succeed take under 10 ms on average) it also pulls about 10 ms of work per
// slot ahead (at most 256 tasks), refilling when half of that is used, so that a queue of short
// tasks costs one pull request per batch and the slots never wait for one; otherwise it holds
// no task it has not started, leaving queued tasks to idle workers. Every message it holds
// (waiting, running or being recorded) is heartbeated with InProgress every ack wait / 4 by
// one loop. A slot skips a redelivered task whose outcome exists (acking it), records "running"
// once the task has run for 250 ms (short tasks go straight to their outcome), and on success
// the outcome is published; once it is confirmed the message is acked (a plain ack, not waited
// for: a lost ack means a redelivery, which finds the outcome). Batch tasks that succeed are
// recorded in groups: one goroutine publishes the outcomes of the tasks that finished within
// 20 ms of the group's first (up to 64; only those ready when the slots finish less than a task
// per 5 ms on average) in one burst, so that the server handles a burst per group rather than
// a wake-up per message, and another acks their messages, in finishing order, as the
// confirmations come; a task whose outcome is not confirmed is handed back (nak) and its
// redelivery records it. Other endings (failures, lease tasks, the final step) are recorded by
// a goroutine each. The recording overlaps the slot's next tasks (16 a slot, 256 at least, in
// flight), so the queue's round trips are not on the slots' path. The price of pulling ahead
// and of grouping: a worker that dies (kill -9, a task that crashes it) also costs each task it
// had pulled and not started, and each finished task whose outcome was not yet confirmed, one
// delivery of its limit; that is why only tasks under 10 ms are pulled ahead, and only
// frequent outcomes wait for a group.
// Runs write their outputs atomically under names that depend only on the task, so a task whose
// worker died after writing but before acking is run again with the same result: the final
// output equals an uninterrupted run's. A failed run is nak'ed with a growing delay; at the
// delivery limit (or at once for a Permanent error) the failure is recorded as the outcome and
// the message terminated. A task whose worker dies on every delivery never gets that far: the
// server's max-deliveries advisory, captured in WIT_ADVISORIES, is consumed by some worker,
// which records the failure and deletes the message. Either way the job goes on without it.
//
// Final step: every worker checks the jobs whose tasks it finished within 100 ms (at once when
// the count it last read plus the outcomes it recorded since reach the task count; again 100 ms
// after its last outcome of the job, which the count then includes), and every job not yet
// complete every 5 s; when a job's count of outcomes reaches its task count it
// enqueues the task "final" (msg ID job.final, one message per subject), which runs the kind's
// Finalize with all outcomes. The check is not on the ack's path, so a worker dying after its
// last ack delays the final step by at most the sweep interval; wit submit --wait enqueues it
// too, and its wait ends when the final outcome is written (a watch of that key), not at its
// next poll.
//
// Lease kinds (crawl partitions) ack their message themselves when their work is durably done
// and decide when their job is complete (see dist/stages): after its ack, a lease task checks
// that no task message (queued or held) and no inbox message of its job is left, and the last
// one enqueues the final step. The workers' 5 s sweep repeats that check for every unfinished
// lease job and wakes lease tasks whose inbox has messages but that are neither queued nor held
// (Kind.Wake), so a worker dying between its ack and those steps leaves nothing stranded.
//
// Security: a job that asks for private addresses (--allow-private) runs only on workers
// started with --allow-private (Task.CheckPrivate).
package dist
