package main

import (
	"context"
	"log/slog"

	"bonafide/jobs"
	"bonafide/postgres"
)

// openPostgres opens (and migrates, under an advisory lock) the scale-out store.
func openPostgres(ctx context.Context, f *serverFlags, log *slog.Logger) (*backend, error) {
	st, err := postgres.Open(ctx, f.databaseURL, postgres.Options{Logger: log})
	if err != nil {
		return nil, err
	}
	return &backend{store: st, queue: func(deps jobs.Deps, cfg jobs.Config) (queueRunner, func(context.Context) (map[string]int, error), error) {
		q, err := jobs.NewPostgres(st.Pool(), deps, cfg)
		if err != nil {
			return nil, nil, err
		}
		st.SetEnqueuer(q)
		return q, func(ctx context.Context) (map[string]int, error) { return jobs.DepthPgx(ctx, st.Pool()) }, nil
	}}, nil
}
