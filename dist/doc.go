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
// <job>.final -> the final step's Outcome), wit_workers (worker id -> WorkerRecord, in memory,
// expiring 15 s after the last heartbeat).
//
// IDs: a job's ID is a hash of its kind and spec (the serialized options), a task's ID a hash of
// the job ID and the task's input. Submitting the same job twice therefore enqueues nothing new.
//
// A worker slot pulls one message at a time (a busy worker holds nothing it has not started),
// skips it if its outcome exists (acking it), records "running", heartbeats it with InProgress
// every ack wait / 4 while the kind's Run works, and on success writes the outcome, then acks.
// Runs write their outputs atomically under names that depend only on the task, so a task whose
// worker died after writing but before acking is run again with the same result: the final
// output equals an uninterrupted run's. A failed run is nak'ed with a growing delay; at the
// delivery limit (or at once for a Permanent error) the failure is recorded as the outcome and
// the message terminated. A task whose worker dies on every delivery never gets that far: the
// server's max-deliveries advisory, captured in WIT_ADVISORIES, is consumed by some worker,
// which records the failure and deletes the message. Either way the job goes on without it.
//
// Final step: when a batch task's outcome makes the count of outcomes reach the job's task count
// (counted with an ephemeral consumer on the bucket's stream, one message per key), the worker
// enqueues the task "final" (msg ID job.final); it runs the kind's Finalize with all outcomes.
// The check happens before the ack, so a failed check is repeated by the redelivery.
//
// Lease kinds (crawl partitions) ack their message themselves when their work is durably done
// and decide when their job is complete (see dist/stages).
package dist
