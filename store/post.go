package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"keel/cache"
	"keel/db"
	"keel/markdown"
)

// Post statuses.
const (
	PostDraft     = "draft"
	PostScheduled = "scheduled"
	PostPublished = "published"
)

// Post is a blog post.
type Post struct {
	ID         int64
	Slug       string
	Title      string
	Excerpt    string
	BodyMD     string
	BodyHTML   string
	CoverID    *int64
	CoverKey   string
	AuthorID   int64
	AuthorName string
	Status     string
	// PublishAt is when a scheduled post goes out, or when a published
	// one did.
	PublishAt *time.Time
	Tags      []string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// PostInput is what an editor saves.
type PostInput struct {
	Title   string
	Slug    string
	Excerpt string
	BodyMD  string
	CoverID *int64
	Tags    []string
	// Revision, when set, is the revision the editor started from: if
	// the post was saved since, PostUpdate returns ErrEdited.
	Revision int64
}

// PostRevision is one saved version of a post.
type PostRevision struct {
	ID          int64
	Title       string
	Excerpt     string
	BodyMD      string
	SavedByName string
	CreatedAt   time.Time
}

// Errors of saving posts.
var (
	// ErrEdited means the post was saved by someone else since the
	// editor loaded it.
	ErrEdited = errors.New("post edited meanwhile")
	// ErrSlugTaken means another post has, or had, the slug.
	ErrSlugTaken = errors.New("slug taken")
	// ErrBadCover means the cover is not a ready image of the library.
	ErrBadCover = errors.New("cover is not an image of the media library")
	// ErrNotInFuture means a post was scheduled for a time gone by.
	ErrNotInFuture = errors.New("time is not in the future")
)

// blogFamily versions every cached public blog page: a write that
// changes what the public sees makes them all stale at once.
const blogFamily = "blog"

// WithMarkdown returns a copy of s that renders posts with r.
func (s *Store) WithMarkdown(r *markdown.Renderer) *Store {
	cp := *s
	cp.md = r
	return &cp
}

// PostCreate saves a new draft by actor, with its first revision.
func (s *Store) PostCreate(ctx context.Context, actor Actor, in PostInput) (Post, error) {
	var p Post
	err := s.inTx(ctx, func(_ pgx.Tx, q *db.Queries) error {
		var err error
		p, err = s.savePost(ctx, q, actor, 0, in)
		return err
	})
	return p, err
}

// PostUpdate saves a post: a new revision, its slug (the old one then
// redirects), tags and the media it uses. A published post's public
// pages change at once.
func (s *Store) PostUpdate(ctx context.Context, actor Actor, id int64, in PostInput) (Post, error) {
	var p Post
	err := s.inTx(ctx, func(_ pgx.Tx, q *db.Queries) error {
		var err error
		p, err = s.savePost(ctx, q, actor, id, in)
		return err
	})
	if err == nil && p.Status == PostPublished {
		s.bumpBlog(ctx)
	}
	return p, err
}

func (s *Store) savePost(ctx context.Context, q *db.Queries, actor Actor, id int64, in PostInput) (Post, error) {
	html, keys, err := s.md.Render(in.BodyMD)
	if err != nil {
		return Post{}, err
	}
	used, err := q.MediaListByKeys(ctx, keys)
	if err != nil {
		return Post{}, fmt.Errorf("media of post: %w", err)
	}
	if in.CoverID != nil {
		cover, err := q.MediaGetByID(ctx, *in.CoverID)
		if errors.Is(err, pgx.ErrNoRows) || (err == nil && (cover.Status != MediaReady || !isImage(cover.ContentType))) {
			return Post{}, ErrBadCover
		}
		if err != nil {
			return Post{}, fmt.Errorf("cover: %w", err)
		}
		used = append(used, cover)
	}

	var row db.Post
	action := "post.updated"
	detail := map[string]any{}
	if id == 0 {
		action = "post.created"
		row, err = q.PostCreate(ctx, db.PostCreateParams{
			Slug: in.Slug, Title: in.Title, Excerpt: in.Excerpt, BodyMd: in.BodyMD, BodyHtml: html,
			CoverID: in.CoverID, AuthorID: actor.ID,
		})
		if isUniqueViolation(err) { // another post has the slug now
			return Post{}, ErrSlugTaken
		}
		if err != nil {
			return Post{}, fmt.Errorf("insert post: %w", err)
		}
	} else {
		before, err := q.PostGetForUpdate(ctx, id)
		if err != nil {
			return Post{}, fmt.Errorf("lock post %d: %w", id, err)
		}
		if in.Revision != 0 {
			latest, err := q.PostRevisionLatest(ctx, id)
			if err != nil {
				return Post{}, fmt.Errorf("latest revision of post %d: %w", id, err)
			}
			if latest != in.Revision {
				return Post{}, ErrEdited
			}
		}
		if before.Slug != in.Slug {
			detail["slug"] = map[string]any{"from": before.Slug, "to": in.Slug}
		}
		row, err = q.PostUpdate(ctx, db.PostUpdateParams{
			ID: id, Slug: in.Slug, Title: in.Title, Excerpt: in.Excerpt, BodyMd: in.BodyMD, BodyHtml: html,
			CoverID: in.CoverID,
		})
		if isUniqueViolation(err) {
			return Post{}, ErrSlugTaken
		}
		if err != nil {
			return Post{}, fmt.Errorf("update post: %w", err)
		}
	}
	owner, err := q.PostSlugClaim(ctx, db.PostSlugClaimParams{Slug: in.Slug, PostID: row.ID})
	if err != nil {
		return Post{}, fmt.Errorf("claim slug: %w", err)
	}
	if owner != row.ID {
		return Post{}, ErrSlugTaken
	}

	if err := q.PostTagsDelete(ctx, row.ID); err != nil {
		return Post{}, fmt.Errorf("clear tags: %w", err)
	}
	for _, tag := range in.Tags {
		if err := q.PostTagAdd(ctx, db.PostTagAddParams{PostID: row.ID, Tag: tag}); err != nil {
			return Post{}, fmt.Errorf("add tag: %w", err)
		}
	}
	if err := q.PostMediaDelete(ctx, row.ID); err != nil {
		return Post{}, fmt.Errorf("clear media use: %w", err)
	}
	for _, m := range used {
		if err := q.PostMediaAdd(ctx, db.PostMediaAddParams{PostID: row.ID, MediaID: m.ID}); err != nil {
			return Post{}, fmt.Errorf("record media use: %w", err)
		}
	}
	var saver *int64
	if actor.ID != 0 {
		saver = &actor.ID
	}
	if err := q.PostRevisionAdd(ctx, db.PostRevisionAddParams{
		PostID: row.ID, Title: in.Title, Excerpt: in.Excerpt, BodyMd: in.BodyMD, SavedBy: saver,
	}); err != nil {
		return Post{}, fmt.Errorf("add revision: %w", err)
	}
	p := postFromRow(row)
	p.Tags = slices.Clone(in.Tags)
	return p, audit(ctx, q, actor, action, p, detail)
}

func isImage(contentType string) bool {
	switch contentType {
	case "image/jpeg", "image/png", "image/gif", "image/webp":
		return true
	}
	return false
}

// PostGetByID returns a post with its tags, or ErrNotFound.
func (s *Store) PostGetByID(ctx context.Context, id int64) (Post, error) {
	row, err := s.q.PostGetByID(ctx, id)
	if err != nil {
		return Post{}, classify(fmt.Errorf("get post %d: %w", id, err))
	}
	list, err := s.completePosts(ctx, []db.Post{row})
	if err != nil {
		return Post{}, err
	}
	return list[0], nil
}

// PostList returns the newest posts for the editors' list.
func (s *Store) PostList(ctx context.Context, limit int32) ([]Post, error) {
	rows, err := s.q.PostListAdmin(ctx, limit)
	if err != nil {
		return nil, classify(fmt.Errorf("list posts: %w", err))
	}
	return s.completePosts(ctx, rows)
}

// completePosts adds tags, author names and cover keys to rows.
func (s *Store) completePosts(ctx context.Context, rows []db.Post) ([]Post, error) {
	posts := mapRows(rows, postFromRow)
	if len(posts) == 0 {
		return posts, nil
	}
	ids := make([]int64, len(posts))
	index := map[int64]int{}
	var authors, covers []int64
	for i, p := range posts {
		ids[i] = p.ID
		index[p.ID] = i
		authors = append(authors, p.AuthorID)
		if p.CoverID != nil {
			covers = append(covers, *p.CoverID)
		}
	}
	tags, err := s.q.PostTags(ctx, ids)
	if err != nil {
		return nil, classify(fmt.Errorf("post tags: %w", err))
	}
	for _, t := range tags {
		i := index[t.PostID]
		posts[i].Tags = append(posts[i].Tags, t.Tag)
	}
	users, err := s.q.UserListByIDs(ctx, authors)
	if err != nil {
		return nil, classify(fmt.Errorf("post authors: %w", err))
	}
	names := map[int64]string{}
	for _, u := range users {
		names[u.ID] = u.Name
	}
	keys := map[int64]string{}
	for _, id := range covers {
		if m, err := s.q.MediaGetByID(ctx, id); err == nil {
			keys[id] = m.Key
		}
	}
	for i := range posts {
		posts[i].AuthorName = names[posts[i].AuthorID]
		if posts[i].CoverID != nil {
			posts[i].CoverKey = keys[*posts[i].CoverID]
		}
	}
	return posts, nil
}

// PostPublish publishes a post now, cancelling its schedule if it had
// one.
func (s *Store) PostPublish(ctx context.Context, actor Actor, id int64) (Post, error) {
	now := time.Now()
	return s.setPostStatus(ctx, actor, id, "post.published", func(q *db.Queries, tx pgx.Tx, p db.Post) (db.PostSetStatusParams, error) {
		if p.Status == PostPublished {
			return db.PostSetStatusParams{}, ErrNoChange
		}
		return db.PostSetStatusParams{ID: id, Status: PostPublished, PublishAt: &now}, nil
	})
}

// PostSchedule has a River job publish the post at at; a schedule it had
// before is cancelled. A published post is taken down until then.
func (s *Store) PostSchedule(ctx context.Context, actor Actor, id int64, at time.Time) (Post, error) {
	if !at.After(time.Now()) {
		return Post{}, ErrNotInFuture
	}
	return s.setPostStatus(ctx, actor, id, "post.scheduled", func(q *db.Queries, tx pgx.Tx, p db.Post) (db.PostSetStatusParams, error) {
		job, err := s.queue.EnqueuePublish(ctx, tx, id, at)
		if err != nil {
			return db.PostSetStatusParams{}, fmt.Errorf("schedule post %d: %w", id, err)
		}
		return db.PostSetStatusParams{ID: id, Status: PostScheduled, PublishAt: &at, PublishJob: &job}, nil
	})
}

// PostUnpublish makes a post a draft again, cancelling its schedule.
func (s *Store) PostUnpublish(ctx context.Context, actor Actor, id int64) (Post, error) {
	return s.setPostStatus(ctx, actor, id, "post.unpublished", func(q *db.Queries, tx pgx.Tx, p db.Post) (db.PostSetStatusParams, error) {
		if p.Status == PostDraft {
			return db.PostSetStatusParams{}, ErrNoChange
		}
		return db.PostSetStatusParams{ID: id, Status: PostDraft}, nil
	})
}

// setPostStatus moves a post to the status next gives, in one
// transaction with cancelling the job of its old schedule and the audit
// entry; the public pages follow.
func (s *Store) setPostStatus(ctx context.Context, actor Actor, id int64, action string,
	next func(*db.Queries, pgx.Tx, db.Post) (db.PostSetStatusParams, error)) (Post, error) {
	var p Post
	err := s.inTx(ctx, func(tx pgx.Tx, q *db.Queries) error {
		before, err := q.PostGetForUpdate(ctx, id)
		if err != nil {
			return fmt.Errorf("lock post %d: %w", id, err)
		}
		params, err := next(q, tx, before)
		if err != nil {
			return err
		}
		if before.PublishJob != nil {
			if err := s.queue.CancelJob(ctx, tx, *before.PublishJob); err != nil {
				return fmt.Errorf("cancel schedule of post %d: %w", id, err)
			}
		}
		row, err := q.PostSetStatus(ctx, params)
		if err != nil {
			return fmt.Errorf("set post status: %w", err)
		}
		p = postFromRow(row)
		detail := map[string]any{"from": before.Status, "to": p.Status}
		if p.PublishAt != nil {
			detail["publish_at"] = p.PublishAt.UTC().Format(time.RFC3339)
		}
		return audit(ctx, q, actor, action, p, detail)
	})
	if err == nil {
		s.bumpBlog(ctx)
	}
	return p, err
}

// PostPublishDue publishes a post its job was scheduled for at, if it
// is still scheduled for then: a post rescheduled or unpublished since
// is left alone, so a job that was not cancelled in time does nothing.
func (s *Store) PostPublishDue(ctx context.Context, id int64, at time.Time) (bool, error) {
	published := false
	err := s.inTx(ctx, func(_ pgx.Tx, q *db.Queries) error {
		p, err := q.PostGetForUpdate(ctx, id)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // deleted since
		}
		if err != nil {
			return fmt.Errorf("lock post %d: %w", id, err)
		}
		if p.Status != PostScheduled || p.PublishAt == nil || !p.PublishAt.Equal(at) {
			return nil
		}
		row, err := q.PostSetStatus(ctx, db.PostSetStatusParams{ID: id, Status: PostPublished, PublishAt: p.PublishAt})
		if err != nil {
			return fmt.Errorf("publish post %d: %w", id, err)
		}
		published = true
		return audit(ctx, q, Actor{}, "post.published", postFromRow(row), map[string]any{"scheduled": true})
	})
	if published {
		s.bumpBlog(ctx)
	}
	return published, err
}

// PostDelete deletes a post, its revisions and old slugs, audited.
func (s *Store) PostDelete(ctx context.Context, actor Actor, id int64) error {
	err := s.inTx(ctx, func(tx pgx.Tx, q *db.Queries) error {
		p, err := q.PostGetForUpdate(ctx, id)
		if err != nil {
			return fmt.Errorf("lock post %d: %w", id, err)
		}
		if p.PublishJob != nil {
			if err := s.queue.CancelJob(ctx, tx, *p.PublishJob); err != nil {
				return fmt.Errorf("cancel schedule of post %d: %w", id, err)
			}
		}
		if _, err := q.PostDelete(ctx, id); err != nil {
			return fmt.Errorf("delete post %d: %w", id, err)
		}
		return audit(ctx, q, actor, "post.deleted", postFromRow(p), map[string]any{"title": p.Title, "slug": p.Slug})
	})
	if err == nil {
		s.bumpBlog(ctx)
	}
	return err
}

// PostRevisions returns a post's revisions, newest first.
func (s *Store) PostRevisions(ctx context.Context, id int64) ([]PostRevision, error) {
	rows, err := s.q.PostRevisions(ctx, id)
	if err != nil {
		return nil, classify(fmt.Errorf("post revisions: %w", err))
	}
	return mapRows(rows, func(r db.PostRevisionsRow) PostRevision {
		return PostRevision{ID: r.ID, Title: r.Title, Excerpt: r.Excerpt, BodyMD: r.BodyMd,
			SavedByName: r.SavedByName, CreatedAt: r.CreatedAt}
	}), nil
}

// PostRestore saves a revision's title, excerpt and body as the post's
// current ones (a new revision).
func (s *Store) PostRestore(ctx context.Context, actor Actor, id, revisionID int64) (Post, error) {
	current, err := s.PostGetByID(ctx, id)
	if err != nil {
		return Post{}, err
	}
	rev, err := s.q.PostRevisionGet(ctx, db.PostRevisionGetParams{ID: revisionID, PostID: id})
	if err != nil {
		return Post{}, classify(fmt.Errorf("get revision %d: %w", revisionID, err))
	}
	return s.PostUpdate(ctx, actor, id, PostInput{
		Title: rev.Title, Slug: current.Slug, Excerpt: rev.Excerpt, BodyMD: rev.BodyMd,
		CoverID: current.CoverID, Tags: current.Tags,
	})
}

// PublicPost is a published post found by a slug it has had.
type PublicPost struct {
	Post Post
	// Moved is true when the slug asked for is an old one: the post now
	// lives at Post.Slug.
	Moved bool
}

// PostPublic returns the published post at slug, through the cache, or
// ErrNotFound (drafts and scheduled posts are not public).
func (s *Store) PostPublic(ctx context.Context, slug string) (PublicPost, error) {
	return blogCached(ctx, s, "post:"+slug, func(ctx context.Context) (PublicPost, error) {
		row, err := s.q.PostGetBySlug(ctx, slug)
		if err != nil {
			return PublicPost{}, classify(fmt.Errorf("get post %q: %w", slug, err))
		}
		if row.Status != PostPublished {
			return PublicPost{}, ErrNotFound
		}
		list, err := s.completePosts(ctx, []db.Post{row})
		if err != nil {
			return PublicPost{}, err
		}
		return PublicPost{Post: list[0], Moved: row.Slug != slug}, nil
	})
}

// PostPage is one page of published posts.
type PostPage struct {
	Posts []Post
	Total int64
}

// PostsPublished returns page (from 1) of the published posts, newest
// first, with tag if it is not empty, through the cache. Only pages that
// exist are cached: a tag no published post has, or a page past the
// last, answers an empty page without storing it, so made-up addresses
// cannot fill the cache.
func (s *Store) PostsPublished(ctx context.Context, tag string, page, perPage int) (PostPage, error) {
	if tag != "" {
		tags, err := s.blogTags(ctx)
		if err != nil {
			return PostPage{}, err
		}
		if _, ok := slices.BinarySearch(tags, tag); !ok {
			return PostPage{}, nil
		}
	}
	if page > 1 {
		first, err := s.PostsPublished(ctx, tag, 1, perPage)
		if err != nil {
			return PostPage{}, err
		}
		if int64((page-1)*perPage) >= first.Total {
			return PostPage{Total: first.Total}, nil
		}
	}
	key := fmt.Sprintf("list:%s:%d:%d", tag, page, perPage)
	return blogCached(ctx, s, key, func(ctx context.Context) (PostPage, error) {
		var t *string
		if tag != "" {
			t = &tag
		}
		rows, err := s.q.PostListPublished(ctx, db.PostListPublishedParams{
			Tag: t, RowLimit: int32(perPage), RowOffset: int32((page - 1) * perPage), //nolint:gosec // G115: bounded by the caller.
		})
		if err != nil {
			return PostPage{}, classify(fmt.Errorf("list published posts: %w", err))
		}
		total, err := s.q.PostCountPublished(ctx, t)
		if err != nil {
			return PostPage{}, classify(fmt.Errorf("count published posts: %w", err))
		}
		posts, err := s.completePosts(ctx, rows)
		return PostPage{Posts: posts, Total: total}, err
	})
}

// blogTags returns the tags of published posts, sorted, through the
// cache.
func (s *Store) blogTags(ctx context.Context) ([]string, error) {
	return blogCached(ctx, s, "tags", func(ctx context.Context) ([]string, error) {
		tags, err := s.q.PostTagsPublished(ctx)
		if err != nil {
			return nil, classify(fmt.Errorf("list tags: %w", err))
		}
		return tags, nil
	})
}

// SitemapEntry is one published post for sitemap.xml.
type SitemapEntry struct {
	Slug      string
	UpdatedAt time.Time
}

// PostSitemap returns every published post's slug and last change,
// through the cache.
func (s *Store) PostSitemap(ctx context.Context) ([]SitemapEntry, error) {
	return blogCached(ctx, s, "sitemap", func(ctx context.Context) ([]SitemapEntry, error) {
		rows, err := s.q.PostSitemap(ctx)
		if err != nil {
			return nil, classify(fmt.Errorf("sitemap: %w", err))
		}
		return mapRows(rows, func(r db.PostSitemapRow) SitemapEntry {
			return SitemapEntry{Slug: r.Slug, UpdatedAt: r.UpdatedAt}
		}), nil
	})
}

// BlogVersion identifies the current state of the public blog: it
// changes whenever a write changes what the public sees. ok is false
// when it cannot be read (Redis away).
func (s *Store) BlogVersion(ctx context.Context) (int64, bool) {
	if s.cache == nil {
		return 0, false
	}
	return s.cache.Version(ctx, blogFamily)
}

// blogCached serves a public blog value from the cache, under the blog's
// current version; without one it reads PostgreSQL.
func blogCached[T any](ctx context.Context, s *Store, id string, load func(context.Context) (T, error)) (T, error) {
	v, ok := s.BlogVersion(ctx)
	if !ok {
		return load(ctx)
	}
	key := cache.Key{Family: blogFamily, ID: strconv.FormatInt(v, 10) + ":" + id}
	return cache.GetLocal(ctx, s.cache, key, 10*time.Minute, load)
}

func (s *Store) bumpBlog(ctx context.Context) {
	if s.cache != nil {
		s.cache.Bump(ctx, blogFamily)
	}
}

func (p Post) auditTarget() (string, string) { return "post", strconv.FormatInt(p.ID, 10) }

func postFromRow(r db.Post) Post {
	return Post{
		ID: r.ID, Slug: r.Slug, Title: r.Title, Excerpt: r.Excerpt, BodyMD: r.BodyMd, BodyHTML: r.BodyHtml,
		CoverID: r.CoverID, AuthorID: r.AuthorID, Status: r.Status, PublishAt: r.PublishAt,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
	}
}
