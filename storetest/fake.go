// Package storetest is the conformance suite every bonafide.Store implementation runs (sqlite, postgres).
package storetest

import (
	"time"

	"bonafide/internal/testkit"
)

// Env is what a store under test is opened with: install Enqueuer (adapted to the store's
// transactions) and use Now as its clock.
type Env struct {
	Enqueuer *testkit.Enqueuer
	Now      func() time.Time
}
