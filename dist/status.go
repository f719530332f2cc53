package dist

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

func sortJobs(js []*JobRecord) {
	slices.SortFunc(js, func(a, b *JobRecord) int { return a.Created.Compare(b.Created) })
}

// JobStatus is what wit jobs shows of a job.
type JobStatus struct {
	Job      *JobRecord   `json:"job"`
	Done     int          `json:"done"`
	Failed   int          `json:"failed"`
	Running  int          `json:"running"`
	Retrying int          `json:"retrying"`
	Queued   int          `json:"queued"` // batch jobs: tasks not started yet
	Complete bool         `json:"complete"`
	Final    *Outcome     `json:"final,omitempty"`
	Rate     float64      `json:"tasks_per_s"` // tasks finished per second over the last minute
	Failures []TaskRecord `json:"failures,omitempty"`
}

// Status reads the state of every task of a job: done and failed from the outcomes (written
// before a task is acked), running and retrying from the latest task states (published without
// waiting, so a moment behind).
func (c *Conn) Status(ctx context.Context, job *JobRecord) (JobStatus, error) {
	s := JobStatus{Job: job}
	outcomes, err := c.Outcomes(ctx, job.ID)
	if err != nil {
		return s, err
	}
	recs, err := c.TaskRecords(ctx, job.ID)
	if err != nil {
		return s, err
	}
	byTask := make(map[string]TaskRecord, len(recs))
	for _, r := range recs {
		byTask[r.Task] = r
	}
	recent := 0
	now := time.Now()
	for id, o := range outcomes {
		switch o.State {
		case StateDone:
			s.Done++
		case StateFailed:
			s.Failed++
			r := byTask[id]
			r.Task, r.Index, r.Attempt, r.State, r.Error, r.Finished = id, o.Index, o.Attempt, StateFailed, o.Error, o.Finished
			s.Failures = append(s.Failures, r)
		}
		if now.Sub(o.Finished) < time.Minute {
			recent++
		}
	}
	for _, r := range recs {
		if r.Task == finalTaskID || outcomes[r.Task] != nil {
			continue
		}
		switch r.State {
		case StateRunning:
			s.Running++
		case StateRetrying:
			s.Retrying++
		case StateDone:
			if job.Lease { // lease tasks have no outcome when they end well
				s.Done++
				if now.Sub(r.Finished) < time.Minute {
					recent++
				}
			}
		}
	}
	s.Rate = float64(recent) / 60
	if !job.Lease {
		s.Queued = max(job.Tasks-s.Done-s.Failed-s.Running-s.Retrying, 0)
	}
	if s.Final, err = c.outcome(ctx, finalKey(job.ID)); err != nil {
		return s, err
	}
	s.Complete = s.Final != nil || !job.Finalize && !job.Lease && s.Done+s.Failed >= job.Tasks
	slices.SortFunc(s.Failures, func(a, b TaskRecord) int { return a.Index - b.Index })
	return s, nil
}

// WriteStatus prints jobs and workers as wit jobs shows them.
func WriteStatus(w io.Writer, jobs []JobStatus, workers []WorkerRecord) {
	fmt.Fprintf(w, "%-16s  %-6s  %-8s  %7s  %7s  %7s  %7s  %7s  %8s  %s\n", "JOB", "KIND", "STATE", "TASKS", "DONE", "RUNNING", "QUEUED", "FAILED", "TASKS/S", "CREATED")
	for _, s := range jobs {
		state := "active"
		switch {
		case s.Final != nil && s.Final.State == StateFailed:
			state = "failed"
		case s.Complete:
			state = "complete"
		}
		tasks := fmt.Sprint(s.Job.Tasks)
		queued := fmt.Sprint(s.Queued)
		if s.Job.Lease {
			tasks += "p" // partitions
			queued = "-"
		}
		fmt.Fprintf(w, "%-16s  %-6s  %-8s  %7s  %7d  %7d  %7s  %7d  %8.2f  %s\n", s.Job.ID, s.Job.Kind, state, tasks, s.Done,
			s.Running+s.Retrying, queued, s.Failed, s.Rate, s.Job.Created.Local().Format("2006-01-02 15:04:05"))
		for _, f := range s.Failures {
			fmt.Fprintf(w, "    failed task %s (#%d, %d deliveries): %s\n", f.Task, f.Index, f.Attempt, oneLine(f.Error))
		}
		if s.Final != nil && s.Final.State == StateFailed {
			fmt.Fprintf(w, "    final step failed: %s\n", oneLine(s.Final.Error))
		}
	}
	fmt.Fprintf(w, "\n%d workers alive\n", len(workers))
	for _, wr := range workers {
		fmt.Fprintf(w, "  %-28s  pid %-7d  slots %-3d  done %-7d  failed %-5d  up %s  running %s\n", wr.ID, wr.PID, wr.Concurrency,
			wr.Done, wr.Failed, time.Since(wr.Started).Round(time.Second), strings.Join(wr.Running, " "))
	}
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	return truncate(s, 300)
}
