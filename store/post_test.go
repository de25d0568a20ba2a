package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"keel/markdown"
	"keel/store"
	"keel/testenv"
)

const mediaBase = "https://cdn.keel.test/"

func newBlogStore(t *testing.T) (*store.Store, store.Actor, func(query string, args ...any) int) {
	t.Helper()
	s, tx := newStore(t)
	s = s.WithMarkdown(markdown.New(mediaBase))
	u, err := s.UserCreate(context.Background(), store.Actor{}, store.NewUser{
		Email: testenv.Unique("editor") + "@example.com", Name: "Eddie Editor", Role: "editor",
	})
	require.NoError(t, err)
	count := func(query string, args ...any) int { return countIn(t, tx, query, args...) }
	return s, store.Actor{ID: u.ID, Email: u.Email}, count
}

func readyMedia(t *testing.T, s *store.Store, actor store.Actor, name, contentType string) store.Media {
	t.Helper()
	ctx := context.Background()
	m, err := s.MediaCreate(ctx, actor, store.NewMedia{
		Key: "media/" + testenv.Unique("k") + "/" + name, Filename: name, ContentType: contentType, SizeBytes: 10,
	})
	require.NoError(t, err)
	m, err = s.MediaConfirm(ctx, actor, m.ID, func(store.Media) error { return nil })
	require.NoError(t, err)
	require.Equal(t, store.MediaReady, m.Status)
	return m
}

// A save renders and sanitises the body, records the media the post
// uses and keeps a revision; a new slug leaves the old one redirecting,
// and no other post can take it.
func TestPostSave(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, actor, count := newBlogStore(t)
	img := readyMedia(t, s, actor, "harbour.jpg", "image/jpeg")
	pdf := readyMedia(t, s, actor, "brochure.pdf", "application/pdf")
	slug := testenv.Unique("first-post")

	p, err := s.PostCreate(ctx, actor, store.PostInput{
		Title: "First post", Slug: slug, Excerpt: "The first.", Tags: []string{"news", "harbour"},
		BodyMD:  "Hello <script>alert(1)</script>\n\n![Harbour](" + mediaBase + img.Key + ")",
		CoverID: &img.ID,
	})
	require.NoError(t, err)
	require.Equal(t, store.PostDraft, p.Status)
	require.NotContains(t, p.BodyHTML, "<script")
	require.Contains(t, p.BodyHTML, `<img src="`+mediaBase+img.Key+`"`)
	require.Equal(t, 1, count("SELECT count(*) FROM post_media WHERE post_id = $1", p.ID), "the cover is the image in the body")
	require.Equal(t, 1, count("SELECT count(*) FROM post_revisions WHERE post_id = $1", p.ID))

	newSlug := slug + "-renamed"
	p, err = s.PostUpdate(ctx, actor, p.ID, store.PostInput{
		Title: "First post, renamed", Slug: newSlug, BodyMD: "[the brochure](" + mediaBase + pdf.Key + ")", Tags: []string{"news"},
	})
	require.NoError(t, err)
	require.Equal(t, 2, count("SELECT count(*) FROM post_revisions WHERE post_id = $1", p.ID))
	require.Equal(t, []int{0, 1}, []int{
		count("SELECT count(*) FROM post_media WHERE post_id = $1 AND media_id = $2", p.ID, img.ID),
		count("SELECT count(*) FROM post_media WHERE post_id = $1 AND media_id = $2", p.ID, pdf.ID),
	}, "use follows the body")

	_, err = s.PostPublish(ctx, actor, p.ID)
	require.NoError(t, err)
	old, err := s.PostPublic(ctx, slug)
	require.NoError(t, err)
	require.True(t, old.Moved, "the old slug leads to the post")
	require.Equal(t, newSlug, old.Post.Slug)
	require.Equal(t, []string{"news"}, old.Post.Tags)

	_, err = s.PostCreate(ctx, actor, store.PostInput{Title: "Squatter", Slug: slug})
	require.ErrorIs(t, err, store.ErrSlugTaken, "an old slug stays the first post's")
	_, err = s.PostCreate(ctx, actor, store.PostInput{Title: "Namesake", Slug: newSlug})
	require.ErrorIs(t, err, store.ErrSlugTaken, "nor can a new post take another's current slug")
	other, err := s.PostCreate(ctx, actor, store.PostInput{Title: "Other", Slug: testenv.Unique("other")})
	require.NoError(t, err)
	_, err = s.PostUpdate(ctx, actor, other.ID, store.PostInput{Title: "Other", Slug: newSlug})
	require.ErrorIs(t, err, store.ErrSlugTaken, "nor an edited one")
	_, err = s.PostCreate(ctx, actor, store.PostInput{Title: "Bad cover", Slug: testenv.Unique("bad-cover"), CoverID: &pdf.ID})
	require.ErrorIs(t, err, store.ErrBadCover, "a PDF is no cover")

	revisions, err := s.PostRevisions(ctx, p.ID)
	require.NoError(t, err)
	require.Len(t, revisions, 2)
	restored, err := s.PostRestore(ctx, actor, p.ID, revisions[1].ID)
	require.NoError(t, err)
	require.Equal(t, "First post", restored.Title)
	require.Contains(t, restored.BodyHTML, "Hello")
	require.Equal(t, newSlug, restored.Slug, "restoring keeps the address")
	require.Equal(t, 3, count("SELECT count(*) FROM post_revisions WHERE post_id = $1", p.ID))
}

// Only published posts are public.
func TestPostPublic(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, actor, _ := newBlogStore(t)
	slug := testenv.Unique("public")
	p, err := s.PostCreate(ctx, actor, store.PostInput{Title: "Soon", Slug: slug, BodyMD: "Body."})
	require.NoError(t, err)
	_, err = s.PostPublic(ctx, slug)
	require.ErrorIs(t, err, store.ErrNotFound, "a draft")

	_, err = s.PostPublish(ctx, actor, p.ID)
	require.NoError(t, err)
	_, err = s.PostPublish(ctx, actor, p.ID)
	require.ErrorIs(t, err, store.ErrNoChange)
	pub, err := s.PostPublic(ctx, slug)
	require.NoError(t, err)
	require.False(t, pub.Moved)
	page, err := s.PostsPublished(ctx, "", 1, 50)
	require.NoError(t, err)
	require.Positive(t, page.Total)

	_, err = s.PostUnpublish(ctx, actor, p.ID)
	require.NoError(t, err)
	_, err = s.PostPublic(ctx, slug)
	require.ErrorIs(t, err, store.ErrNotFound)
}

// Scheduling inserts the job that publishes the post at its time;
// rescheduling and unpublishing cancel it; a job for a time the post is
// no longer scheduled for does nothing.
func TestPostSchedule(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, actor, count := newBlogStore(t)
	p, err := s.PostCreate(ctx, actor, store.PostInput{Title: "Later", Slug: testenv.Unique("later"), BodyMD: "Body."})
	require.NoError(t, err)

	_, err = s.PostSchedule(ctx, actor, p.ID, time.Now().Add(-time.Minute))
	require.ErrorIs(t, err, store.ErrNotInFuture)

	first := time.Now().Add(time.Hour).Truncate(time.Second)
	p, err = s.PostSchedule(ctx, actor, p.ID, first)
	require.NoError(t, err)
	require.Equal(t, store.PostScheduled, p.Status)
	jobs := `SELECT count(*) FROM river_job WHERE kind = 'publish_post' AND (args->>'post_id')::bigint = $1 AND state = $2`
	require.Equal(t, 1, count(jobs, p.ID, "scheduled"))

	second := first.Add(time.Hour)
	_, err = s.PostSchedule(ctx, actor, p.ID, second)
	require.NoError(t, err)
	require.Equal(t, 1, count(jobs, p.ID, "scheduled"), "the first job was cancelled")
	require.Equal(t, 1, count(jobs, p.ID, "cancelled"))

	published, err := s.PostPublishDue(ctx, p.ID, first)
	require.NoError(t, err)
	require.False(t, published, "a job for the old time does nothing")
	published, err = s.PostPublishDue(ctx, p.ID, second) // as its job does
	require.NoError(t, err)
	require.True(t, published)
	got, err := s.PostGetByID(ctx, p.ID)
	require.NoError(t, err)
	require.Equal(t, store.PostPublished, got.Status)
	require.True(t, got.PublishAt.Equal(second))

	_, err = s.PostSchedule(ctx, actor, p.ID, second.Add(time.Hour))
	require.NoError(t, err)
	_, err = s.PostUnpublish(ctx, actor, p.ID)
	require.NoError(t, err)
	require.Equal(t, 2, count(jobs, p.ID, "cancelled"), "unpublishing cancels the schedule")
}

// A medium in use cannot be deleted; a refused upload leaves nothing.
func TestMediaUseAndRefusal(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, actor, count := newBlogStore(t)
	img := readyMedia(t, s, actor, "used.png", "image/png")
	p, err := s.PostCreate(ctx, actor, store.PostInput{Title: "Uses", Slug: testenv.Unique("uses"), CoverID: &img.ID})
	require.NoError(t, err)

	_, err = s.MediaDelete(ctx, actor, img.ID)
	require.ErrorIs(t, err, store.ErrInUse)
	list, err := s.MediaList(ctx, 500)
	require.NoError(t, err)
	for _, m := range list {
		if m.ID == img.ID {
			require.Equal(t, []store.MediaUse{{PostID: p.ID, Title: "Uses"}}, m.UsedBy)
		}
	}
	require.NoError(t, s.PostDelete(ctx, actor, p.ID))
	_, err = s.MediaDelete(ctx, actor, img.ID)
	require.NoError(t, err)

	bad, err := s.MediaCreate(ctx, actor, store.NewMedia{Key: "media/" + testenv.Unique("bad") + "/x.png", Filename: "x.png", ContentType: "image/png", SizeBytes: 5})
	require.NoError(t, err)
	_, err = s.MediaConfirm(ctx, actor, bad.ID, func(store.Media) error { return store.ErrConflict })
	require.ErrorIs(t, err, store.ErrConflict)
	require.Zero(t, count("SELECT count(*) FROM media WHERE id = $1", bad.ID))
}
