package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strconv"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"keel/store"
)

// OrderStuckAfter is the failed attempt after which staff hear that an
// order is failing (storage or SMTP down for a while, say): early enough
// to act, late enough that a passing blip says nothing.
const OrderStuckAfter = 3

// failures tells staff about jobs that keep failing: an order whose job
// has failed OrderStuckAfter times, and any job River gives up on. The
// notices are events (see store.Event), so they reach the portal live.
type failures struct {
	store  *store.Store
	logger *slog.Logger
}

func (f failures) HandleError(ctx context.Context, job *rivertype.JobRow, err error) *river.ErrorHandlerResult {
	f.report(ctx, job, err.Error(), isCancel(err))
	return nil
}

func (f failures) HandlePanic(ctx context.Context, job *rivertype.JobRow, panicVal any, _ string) *river.ErrorHandlerResult {
	f.report(ctx, job, "panic: "+truncate(stringOf(panicVal)), false)
	return nil
}

func (f failures) report(ctx context.Context, job *rivertype.JobRow, msg string, cancelled bool) {
	msg = truncate(msg)
	attempts := strconv.Itoa(job.Attempt)
	var events []store.Event
	if orderID, ok := orderOf(job); ok && job.Attempt == OrderStuckAfter {
		events = append(events, store.Event{
			Topic: store.TopicStaff, Kind: store.EventOrderFailed, Permission: "orders:read",
			Data: map[string]string{"order_id": strconv.FormatInt(orderID, 10), "error": msg, "attempts": attempts},
		})
	}
	if cancelled || job.Attempt >= job.MaxAttempts {
		events = append(events, store.Event{
			Topic: store.TopicStaff, Kind: store.EventJobDiscarded, Permission: "jobs:read",
			Data: map[string]string{
				"job_id": strconv.FormatInt(job.ID, 10), "kind": job.Kind, "error": msg, "attempts": attempts,
			},
		})
	}
	for _, e := range events {
		if err := f.store.EventAdd(ctx, e); err != nil {
			f.logger.ErrorContext(ctx, "record job failure notice", "job_id", job.ID, "kind", e.Kind, "error", err)
		}
	}
}

// orderOf returns the order a job works on, if it works on one.
func orderOf(job *rivertype.JobRow) (int64, bool) {
	if !slices.Contains(OrderJobKinds, job.Kind) {
		return 0, false
	}
	var args struct {
		OrderID int64 `json:"order_id"`
	}
	if err := json.Unmarshal(job.EncodedArgs, &args); err != nil {
		return 0, false
	}
	return args.OrderID, true
}

func isCancel(err error) bool {
	var cancel *river.JobCancelError
	return errors.As(err, &cancel)
}

func stringOf(v any) string {
	if err, ok := v.(error); ok {
		return err.Error()
	}
	if s, ok := v.(string); ok {
		return s
	}
	return "unexpected panic value"
}

// truncate keeps notices short; the full error is in the job's history.
func truncate(s string) string {
	const limit = 300
	for i := range s { // i steps over whole runes
		if i >= limit {
			return s[:i] + "…"
		}
	}
	return s
}
