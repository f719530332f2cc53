package dist

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Inboxes: a lease task (a crawl partition) receives messages from other tasks of its job on
// wit.inbox.<job>.<task>, read by a durable consumer that only the task's holder uses. A
// message stays in the WIT_INBOX work queue until the holder acks it, so whatever was sent to a
// task is either still in its inbox or in the task's own durable state.

func inboxSubject(job, task string) string { return inboxSubjectPrefix + job + "." + task }

func inboxConsumerName(job, task string) string { return "inbox_" + job + "_" + task }

// SendToTask publishes data to a task's inbox. msgID de-duplicates a message sent twice within
// the duplicate window.
func (c *Conn) SendToTask(ctx context.Context, job *JobRecord, task string, data []byte, msgID string) error {
	if _, err := c.JS.Publish(ctx, inboxSubject(job.ID, task), data, jetstream.WithMsgID(msgID)); err != nil {
		return fmt.Errorf("queue: send to %s: %w", task, err)
	}
	return nil
}

// TaskInbox returns the consumer of a task's inbox (created on first use). Messages not acked
// within the ack wait (their reader died) are delivered again, to the task's next holder.
func (c *Conn) TaskInbox(ctx context.Context, job *JobRecord, task string) (jetstream.Consumer, error) {
	cons, err := c.JS.CreateOrUpdateConsumer(ctx, InboxStream, jetstream.ConsumerConfig{
		Durable:       inboxConsumerName(job.ID, task),
		FilterSubject: inboxSubject(job.ID, task),
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       c.settings.AckWait,
		MaxDeliver:    -1,
		Replicas:      c.settings.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("queue: inbox of %s: %w", task, err)
	}
	return cons, nil
}

// InboxPending counts the messages in a task's inbox, read or not, not yet acked.
func (c *Conn) InboxPending(ctx context.Context, job *JobRecord, task string) (int, error) {
	return c.countMessages(ctx, c.inbox, inboxSubject(job.ID, task))
}

// PurgeInbox drops a task's inbox (a lease task that failed for good) and returns how many
// messages were dropped.
func (c *Conn) PurgeInbox(ctx context.Context, job *JobRecord, task string) (int, error) {
	n, err := c.InboxPending(ctx, job, task)
	if err != nil {
		return 0, err
	}
	if err := c.inbox.Purge(ctx, jetstream.WithPurgeSubject(inboxSubject(job.ID, task))); err != nil {
		return 0, fmt.Errorf("queue: purge inbox of %s: %w", task, err)
	}
	return n, nil
}

// LeaseJobIdle reports whether a lease job has nothing left anywhere: no task message (queued
// or held) and no inbox message. Lease tasks check it after acking their own message; the last
// one to ack sees it true and enqueues the final step.
func (c *Conn) LeaseJobIdle(ctx context.Context, job *JobRecord) (bool, error) {
	// Until the submitter has enqueued every task, "nothing queued" means nothing.
	if o, err := c.outcome(ctx, submittedKey(job.ID)); err != nil || o == nil {
		return false, err
	}
	n, err := c.countMessages(ctx, c.tasks, leaseSubjectPrefix+job.ID+".>")
	if err != nil || n > 0 {
		return false, err
	}
	n, err = c.countMessages(ctx, c.inbox, inboxSubjectPrefix+job.ID+".>")
	return n == 0, err
}

// SettleLeaseJob enqueues a lease job's final step when the job is idle. It retries for up to
// a minute: the check after a lease task's ack must not be lost to a passing disconnect.
func (c *Conn) SettleLeaseJob(ctx context.Context, job *JobRecord) error {
	var err error
	for attempt := range 20 {
		var idle bool
		if idle, err = c.LeaseJobIdle(ctx, job); err == nil {
			if !idle {
				return nil
			}
			if err = c.enqueueFinal(ctx, job); err == nil {
				return nil
			}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		time.Sleep(time.Duration(attempt+1) * 150 * time.Millisecond)
	}
	return err
}

// DeleteInboxes removes the inbox consumers of a finished lease job.
func (c *Conn) DeleteInboxes(ctx context.Context, job *JobRecord, tasks []string) error {
	var errs []error
	for _, t := range tasks {
		if err := c.JS.DeleteConsumer(ctx, InboxStream, inboxConsumerName(job.ID, t)); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// strandedInboxes lists the tasks of a lease job with inbox messages but no task message (queued
// or held): nobody will read those messages until the task is woken.
func (c *Conn) strandedInboxes(ctx context.Context, job *JobRecord) ([]string, error) {
	info, err := c.inbox.Info(ctx, jetstream.WithSubjectFilter(inboxSubjectPrefix+job.ID+".>"))
	if err != nil {
		return nil, fmt.Errorf("queue: inboxes of %s: %w", job.ID, err)
	}
	var out []string
	prefix := inboxSubjectPrefix + job.ID + "."
	for subj, n := range info.State.Subjects {
		if n == 0 {
			continue
		}
		task := subj[len(prefix):]
		queued, err := c.TaskQueued(ctx, job, task)
		if err != nil {
			return nil, err
		}
		if !queued {
			out = append(out, task)
		}
	}
	return out, nil
}
