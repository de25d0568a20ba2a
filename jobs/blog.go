package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"keel/store"
)

// PublishPostArgs publishes a scheduled post. At is the time the post
// was scheduled for: if the post has been rescheduled or unpublished
// since, the job does nothing (its cancellation may have come too late).
type PublishPostArgs struct {
	PostID int64     `json:"post_id"`
	At     time.Time `json:"at"`
}

// Kind is stored in river_job; never rename it.
func (PublishPostArgs) Kind() string { return "publish_post" }

// PublishPostWorker publishes posts at their time.
type PublishPostWorker struct {
	river.WorkerDefaults[PublishPostArgs]
	store *store.Store
}

// NewPublishPostWorker returns the worker.
func NewPublishPostWorker(s *store.Store) *PublishPostWorker { return &PublishPostWorker{store: s} }

// Work publishes the post if it is still scheduled for the job's time.
func (w *PublishPostWorker) Work(ctx context.Context, job *river.Job[PublishPostArgs]) error {
	if _, err := w.store.PostPublishDue(ctx, job.Args.PostID, job.Args.At); err != nil {
		return fmt.Errorf("publish post %d: %w", job.Args.PostID, err)
	}
	return nil
}

// EnqueuePublish schedules a post's publication inside tx and returns
// the job's id.
func (q *Queue) EnqueuePublish(ctx context.Context, tx pgx.Tx, postID int64, at time.Time) (int64, error) {
	res, err := q.client.InsertTx(ctx, tx, PublishPostArgs{PostID: postID, At: at}, &river.InsertOpts{ScheduledAt: at})
	if err != nil {
		return 0, err
	}
	return res.Job.ID, nil
}

// CancelJob cancels a job inside tx. A job already finished is left as
// it is.
func (q *Queue) CancelJob(ctx context.Context, tx pgx.Tx, jobID int64) error {
	_, err := q.client.JobCancelTx(ctx, tx, jobID)
	if errors.Is(err, rivertype.ErrNotFound) {
		return nil
	}
	return err
}

// PruneUploadsArgs deletes uploads asked for more than a day ago and
// never confirmed, with whatever the browser stored. It runs every hour.
type PruneUploadsArgs struct{}

// Kind is stored in river_job; never rename it.
func (PruneUploadsArgs) Kind() string { return "prune_uploads" }

// InsertOpts keeps one prune waiting at a time.
func (PruneUploadsArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: time.Hour}}
}

// Deleter removes stored objects; *blob.Store is the real one.
type Deleter interface {
	Delete(ctx context.Context, key string) error
	DeleteOlder(ctx context.Context, prefix string, before time.Time) (int, error)
}

// PruneUploadsWorker deletes abandoned uploads.
type PruneUploadsWorker struct {
	river.WorkerDefaults[PruneUploadsArgs]
	store *store.Store
	blobs Deleter
}

// NewPruneUploadsWorker returns the worker.
func NewPruneUploadsWorker(s *store.Store, blobs Deleter) *PruneUploadsWorker {
	return &PruneUploadsWorker{store: s, blobs: blobs}
}

// UploadLifetime is how long an upload may stay unconfirmed.
const UploadLifetime = 24 * time.Hour

// Work deletes each stale upload's objects, then its record, and then
// whatever else lies in the upload area from before the cut-off: files
// uploaded again with a signed link after their check, or left by a
// check that could not finish.
func (w *PruneUploadsWorker) Work(ctx context.Context, _ *river.Job[PruneUploadsArgs]) error {
	cutoff := time.Now().Add(-UploadLifetime)
	stale, err := w.store.MediaStale(ctx, cutoff)
	if err != nil {
		return err
	}
	for _, m := range stale {
		for _, key := range []string{m.UploadKey(), m.Key} {
			if err := w.blobs.Delete(ctx, key); err != nil {
				return err
			}
		}
		if err := w.store.MediaForget(ctx, m.ID); err != nil {
			return err
		}
	}
	_, err = w.blobs.DeleteOlder(ctx, "uploads/", cutoff)
	return err
}
