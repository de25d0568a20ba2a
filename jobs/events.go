package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"keel/store"
)

// EventRetention is how long live events are kept: the notification
// history, and how far back a reconnecting stream can catch up.
const EventRetention = 30 * 24 * time.Hour

// PruneEventsArgs deletes events older than EventRetention. It runs
// every hour.
type PruneEventsArgs struct{}

// Kind is stored in river_job; never rename it.
func (PruneEventsArgs) Kind() string { return "prune_events" }

// InsertOpts keeps one prune waiting at a time, however many workers
// schedule it.
func (PruneEventsArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: time.Hour}}
}

// PruneEventsWorker deletes old events.
type PruneEventsWorker struct {
	river.WorkerDefaults[PruneEventsArgs]
	store *store.Store
}

// Work deletes the events past retention.
func (w *PruneEventsWorker) Work(ctx context.Context, _ *river.Job[PruneEventsArgs]) error {
	if _, err := w.store.EventPrune(ctx, time.Now().Add(-EventRetention)); err != nil {
		return fmt.Errorf("prune events: %w", err)
	}
	return nil
}
