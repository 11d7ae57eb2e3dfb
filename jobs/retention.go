package jobs

import (
	"context"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// RetentionArgs is the periodic job of one retention run (issue 20, section 1).
type RetentionArgs struct{}

// Kind names the job kind.
func (RetentionArgs) Kind() string { return "retention" }

// DefaultRetentionInterval is how often the retention runs when Config.RetentionInterval is zero.
const DefaultRetentionInterval = time.Hour

const queueMaintenance = "maintenance"

// retentionWorker runs Deps.Retention. River's periodic jobs are enqueued by the elected leader
// alone, and the job is unique while it waits or runs, so one node at a time runs it; a run the
// job's time cut short snoozes the job to go on at once, and a run cut by a crash is taken over
// (the embedded mode at start, River's rescuer in scale-out) and finished from its marks.
type retentionWorker struct {
	river.WorkerDefaults[RetentionArgs]
	run func(ctx context.Context) (more bool, err error)
	log *slog.Logger
}

// Work runs one retention run; one that stopped with work left comes back a second later.
func (w *retentionWorker) Work(ctx context.Context, job *river.Job[RetentionArgs]) error {
	more, err := w.run(ctx)
	if err != nil {
		return err
	}
	if more {
		return river.JobSnooze(time.Second)
	}
	return nil
}

// retentionPeriodic is the periodic job that enqueues the retention every interval, and once
// when a leader starts (so a restart finishes a run a crash cut).
func retentionPeriodic(interval time.Duration) *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(interval), func() (river.JobArgs, *river.InsertOpts) {
		return RetentionArgs{}, &river.InsertOpts{Queue: queueMaintenance, MaxAttempts: 3,
			UniqueOpts: river.UniqueOpts{ByState: []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStatePending,
				rivertype.JobStateRunning, rivertype.JobStateRetryable, rivertype.JobStateScheduled}}}
	}, &river.PeriodicJobOpts{ID: "retention", RunOnStart: true})
}
