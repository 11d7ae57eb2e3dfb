package main

import (
	"context"
	"fmt"
	"log/slog"
)

// openPostgres opens the scale-out store (issue 5; the postgres package is being written).
func openPostgres(ctx context.Context, f *serverFlags, log *slog.Logger) (*backend, error) {
	return nil, fmt.Errorf("database URL %s: PostgreSQL support is not built yet", redact(f.databaseURL))
}
