package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"bonafide/internal/service"
)

// Heartbeat defaults of scale-out mode: a node refreshes its row in bonafide_nodes every
// HeartbeatInterval, and a node whose row is older than NodeDeadAfter is dead: its running jobs are
// handed back to the queue at once, so the others take them over within about NodeDeadAfter +
// HeartbeatInterval of its death, instead of waiting for River's rescuer (RescueAfter, over a
// minute). Four missed beats before a node counts as dead leave room for a slow database.
const (
	DefaultHeartbeatInterval = 5 * time.Second
	DefaultNodeDeadAfter     = 20 * time.Second
)

// heartbeat keeps this node's row fresh and takes over the jobs of dead nodes. Every node runs
// one; the takeover locks the jobs it moves (SKIP LOCKED), so two nodes never move the same job,
// and times come from the database's clock, so nodes' clocks need not agree.
type heartbeat struct {
	pool     *pgxpool.Pool
	id       func() string // the River client id, as river_job.attempted_by records it
	interval time.Duration
	deadFor  time.Duration
	log      *slog.Logger
	abandon  func(ctx context.Context, analysisIDs []string) // analyses whose jobs were discarded

	loop service.Loop
}

// start beats once, then every interval in the background until halt: not until ctx ends, since
// a node that stops working jobs gracefully must keep its row fresh until its last job is done.
func (h *heartbeat) start(ctx context.Context) error {
	if err := h.beat(ctx); err != nil { // the row exists before this node takes its first job
		return err
	}
	return h.loop.Go(context.WithoutCancel(ctx), func(ctx context.Context) {
		service.Every(ctx, h.interval, h.interval, h.tick)
	})
}

// tick beats and takes over the jobs of the nodes that stopped beating.
func (h *heartbeat) tick(ctx context.Context) {
	if err := h.beat(ctx); err != nil && ctx.Err() == nil {
		h.log.Warn("node heartbeat failed", "node", h.id(), "err", err)
	}
	if n, err := h.takeOver(ctx); err != nil && ctx.Err() == nil {
		h.log.Warn("taking over the jobs of stopped nodes failed", "err", err)
	} else if n > 0 {
		h.log.Info("took over the running jobs of a stopped node", "jobs", n)
	}
}

// halt stops beating and marks this node dead at once: after a clean stop it runs no job, and
// after a stop that timed out the others take over what it left running without waiting.
func (h *heartbeat) halt(ctx context.Context) {
	select {
	case <-h.loop.Done():
		return // never started, or halted already
	default:
	}
	_ = h.loop.Stop(context.WithoutCancel(ctx)) // a tick under way ends with its context
	if _, err := h.pool.Exec(context.WithoutCancel(ctx), `UPDATE bonafide_nodes SET beat_at = 'epoch' WHERE id = $1`, h.id()); err != nil {
		h.log.Warn("marking the node stopped failed", "node", h.id(), "err", err)
	}
}

func (h *heartbeat) beat(ctx context.Context) error {
	_, err := h.pool.Exec(ctx, `INSERT INTO bonafide_nodes (id, started_at, beat_at) VALUES ($1, now(), now())
		ON CONFLICT (id) DO UPDATE SET beat_at = now()`, h.id())
	if err != nil {
		return fmt.Errorf("jobs: heartbeat: %w", err)
	}
	return nil
}

// takeOverQuery makes every running job whose last attempt belongs to a node with a stale row
// available again at once (or discards it when its attempts are used up, as River's rescuer does),
// with an attempt error saying why. Rows of nodes dead for a day are forgotten.
const takeOverQuery = `
WITH dead AS (
    SELECT id FROM bonafide_nodes WHERE beat_at < now() - make_interval(secs => $1)
), orphans AS (
    SELECT j.id FROM river_job j JOIN dead ON dead.id = j.attempted_by[array_upper(j.attempted_by, 1)]
    WHERE j.state = 'running'
    FOR UPDATE OF j SKIP LOCKED
), moved AS (
    UPDATE river_job j SET
        state = CASE WHEN j.attempt >= j.max_attempts THEN 'discarded'::river_job_state ELSE 'available'::river_job_state END,
        finalized_at = CASE WHEN j.attempt >= j.max_attempts THEN now() ELSE NULL END,
        scheduled_at = CASE WHEN j.attempt >= j.max_attempts THEN j.scheduled_at ELSE now() END,
        errors = array_append(j.errors, jsonb_build_object('at', now(), 'attempt', j.attempt,
            'error', 'the node running this job stopped beating (' || j.attempted_by[array_upper(j.attempted_by, 1)] || '); taken over', 'trace', ''))
    FROM orphans WHERE j.id = orphans.id
    RETURNING j.id, j.kind, j.state, j.args
), forgotten AS (
    DELETE FROM bonafide_nodes WHERE beat_at < now() - interval '1 day'
)
SELECT kind, state::text, args FROM moved`

func (h *heartbeat) takeOver(ctx context.Context) (int, error) {
	rows, err := h.pool.Query(ctx, takeOverQuery, h.deadFor.Seconds())
	if err != nil {
		return 0, fmt.Errorf("jobs: take over the jobs of stopped nodes: %w", err)
	}
	n := 0
	var abandoned []string
	for rows.Next() {
		var kind, state string
		var args []byte
		if err := rows.Scan(&kind, &state, &args); err != nil {
			rows.Close()
			return n, fmt.Errorf("jobs: take over the jobs of stopped nodes: %w", err)
		}
		n++
		if id, ok := abandonedAnalysis(kind, state, args); ok {
			abandoned = append(abandoned, id)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return n, fmt.Errorf("jobs: take over the jobs of stopped nodes: %w", err)
	}
	if len(abandoned) > 0 && h.abandon != nil {
		h.abandon(ctx, abandoned)
	}
	return n, nil
}
