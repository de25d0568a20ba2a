package jobs_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertest"
	"github.com/stretchr/testify/require"

	"keel/blob"
	"keel/jobs"
	"keel/markdown"
	"keel/store"
	"keel/testenv"
)

func blogStore(t *testing.T) (*store.Store, pgx.Tx, store.Actor) {
	t.Helper()
	tx := testenv.Tx(t)
	inserter, err := jobs.NewInserter(testenv.Pool(t), testenv.Logger(t))
	require.NoError(t, err)
	s := store.New(tx, jobs.NewQueue(inserter)).WithMarkdown(markdown.New("https://cdn.keel.test/"))
	u, err := s.UserCreate(context.Background(), store.Actor{}, store.NewUser{
		Email: testenv.Unique("editor") + "@example.com", Name: "Ed", Role: "editor",
	})
	require.NoError(t, err)
	return s, tx, store.Actor{ID: u.ID}
}

// The scheduled job publishes the post it was scheduled for.
func TestPublishPost(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, tx, actor := blogStore(t)
	p, err := s.PostCreate(ctx, actor, store.PostInput{Title: "Timed", Slug: testenv.Unique("timed")})
	require.NoError(t, err)
	at := time.Now().Add(time.Hour).Truncate(time.Microsecond)
	_, err = s.PostSchedule(ctx, actor, p.ID, at)
	require.NoError(t, err)

	w := rivertest.NewWorker(t, riverpgxv5.New(nil), &river.Config{}, jobs.NewPublishPostWorker(s))
	res, err := w.Work(ctx, t, tx, jobs.PublishPostArgs{PostID: p.ID, At: at}, nil)
	require.NoError(t, err)
	require.Equal(t, river.EventKindJobCompleted, res.EventKind)
	got, err := s.PostGetByID(ctx, p.ID)
	require.NoError(t, err)
	require.Equal(t, store.PostPublished, got.Status)
}

// Uploads never confirmed are deleted after a day, objects and all.
func TestPruneUploads(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, tx, actor := blogStore(t)
	cfg := testenv.Config(t)
	blobs := blob.New(blob.Config{Endpoint: cfg.S3Endpoint, Region: cfg.S3Region, Bucket: cfg.S3Bucket,
		AccessKey: cfg.S3AccessKey, SecretKey: cfg.S3SecretKey})
	require.NoError(t, blobs.EnsureBucket(ctx, cfg.BaseURL))

	old, err := s.MediaCreate(ctx, actor, store.NewMedia{Key: "media/" + testenv.Unique("old") + "/x.png", Filename: "x.png", ContentType: "image/png", SizeBytes: 3})
	require.NoError(t, err)
	fresh, err := s.MediaCreate(ctx, actor, store.NewMedia{Key: "media/" + testenv.Unique("new") + "/y.png", Filename: "y.png", ContentType: "image/png", SizeBytes: 3})
	require.NoError(t, err)
	require.NoError(t, blobs.Put(ctx, old.UploadKey(), "image/png", []byte("abc")))
	_, err = tx.Exec(ctx, "UPDATE media SET created_at = now() - interval '25 hours' WHERE id = $1", old.ID)
	require.NoError(t, err)

	w := rivertest.NewWorker(t, riverpgxv5.New(nil), &river.Config{}, jobs.NewPruneUploadsWorker(s, blobs))
	_, err = w.Work(ctx, t, tx, jobs.PruneUploadsArgs{}, nil)
	require.NoError(t, err)
	_, err = blobs.Head(ctx, old.UploadKey())
	require.ErrorIs(t, err, blob.ErrNoObject)
	_, err = s.MediaGetByID(ctx, old.ID)
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = s.MediaGetByID(ctx, fresh.ID)
	require.NoError(t, err, "a recent upload may still be confirmed")
}
