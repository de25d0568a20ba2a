package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"keel/db"
)

// Media statuses: an upload is pending until its stored object has been
// checked.
const (
	MediaPending = "pending"
	MediaReady   = "ready"
)

// Media is one file in the media library.
type Media struct {
	ID          int64
	Key         string
	Filename    string
	ContentType string
	SizeBytes   int64
	Status      string
	CreatedAt   time.Time
	// UsedBy lists the posts that use it, where it was asked for.
	UsedBy []MediaUse
}

// UploadKey is where the browser stores the file before it is checked:
// the file is served from Key only once Keel has checked it and copied
// it there, so a signed upload used again changes nothing anyone sees.
func (m Media) UploadKey() string { return "uploads/" + strings.TrimPrefix(m.Key, "media/") }

// MediaUse is a post that uses a medium.
type MediaUse struct {
	PostID int64
	Title  string
}

// ErrInUse means a medium is used by posts and cannot be deleted.
var ErrInUse = errors.New("in use")

// NewMedia is an upload asked for.
type NewMedia struct {
	Key         string
	Filename    string
	ContentType string
	SizeBytes   int64
}

// MediaCreate records an upload asked for, pending until confirmed.
func (s *Store) MediaCreate(ctx context.Context, actor Actor, in NewMedia) (Media, error) {
	var uploader *int64
	if actor.ID != 0 {
		uploader = &actor.ID
	}
	row, err := s.q.MediaCreate(ctx, db.MediaCreateParams{
		Key: in.Key, Filename: in.Filename, ContentType: in.ContentType, SizeBytes: in.SizeBytes, UploadedBy: uploader,
	})
	if err != nil {
		return Media{}, classify(fmt.Errorf("record upload: %w", err))
	}
	return mediaFromRow(row), nil
}

// MediaGetByID returns a medium, or ErrNotFound.
func (s *Store) MediaGetByID(ctx context.Context, id int64) (Media, error) {
	row, err := s.q.MediaGetByID(ctx, id)
	if err != nil {
		return Media{}, classify(fmt.Errorf("get media %d: %w", id, err))
	}
	return mediaFromRow(row), nil
}

// MediaConfirm marks a pending upload ready once check, given the
// record, accepts the stored object; when check refuses it, the record
// is deleted (so nothing is kept of a bad upload) and check's error
// returned. A medium already ready is returned as it is.
func (s *Store) MediaConfirm(ctx context.Context, actor Actor, id int64, check func(Media) error) (Media, error) {
	var m Media
	var checkErr error
	err := s.inTx(ctx, func(_ pgx.Tx, q *db.Queries) error {
		row, err := q.MediaGetForUpdate(ctx, id)
		if err != nil {
			return fmt.Errorf("lock media %d: %w", id, err)
		}
		m = mediaFromRow(row)
		if m.Status == MediaReady {
			return nil
		}
		if checkErr = check(m); checkErr != nil {
			if _, err := q.MediaDelete(ctx, id); err != nil {
				return fmt.Errorf("delete refused upload %d: %w", id, err)
			}
			return nil
		}
		if row, err = q.MediaMarkReady(ctx, id); err != nil {
			return fmt.Errorf("mark media %d ready: %w", id, err)
		}
		m = mediaFromRow(row)
		return audit(ctx, q, actor, "media.uploaded", m, map[string]any{
			"filename": m.Filename, "content_type": m.ContentType, "size": m.SizeBytes,
		})
	})
	if err != nil {
		return Media{}, err
	}
	return m, checkErr
}

// MediaList returns the newest ready media, with the posts using each.
func (s *Store) MediaList(ctx context.Context, limit int32) ([]Media, error) {
	rows, err := s.q.MediaListReady(ctx, limit)
	if err != nil {
		return nil, classify(fmt.Errorf("list media: %w", err))
	}
	list := mapRows(rows, mediaFromRow)
	return list, s.withUsage(ctx, list)
}

func (s *Store) withUsage(ctx context.Context, list []Media) error {
	ids := make([]int64, len(list))
	index := map[int64]int{}
	for i, m := range list {
		ids[i] = m.ID
		index[m.ID] = i
	}
	uses, err := s.q.MediaUsage(ctx, ids)
	if err != nil {
		return classify(fmt.Errorf("media usage: %w", err))
	}
	for _, u := range uses {
		i := index[u.MediaID]
		list[i].UsedBy = append(list[i].UsedBy, MediaUse{PostID: u.PostID, Title: u.Title})
	}
	return nil
}

// MediaDelete deletes a medium no post uses, audited, and returns it so
// its object can be removed. A medium in use is ErrInUse.
func (s *Store) MediaDelete(ctx context.Context, actor Actor, id int64) (Media, error) {
	var m Media
	err := s.inTx(ctx, func(_ pgx.Tx, q *db.Queries) error {
		row, err := q.MediaGetForUpdate(ctx, id)
		if err != nil {
			return fmt.Errorf("lock media %d: %w", id, err)
		}
		m = mediaFromRow(row)
		uses, err := q.MediaUsage(ctx, []int64{id})
		if err != nil {
			return fmt.Errorf("media usage: %w", err)
		}
		if len(uses) > 0 {
			return ErrInUse
		}
		if _, err := q.MediaDelete(ctx, id); err != nil {
			return fmt.Errorf("delete media %d: %w", id, err)
		}
		return audit(ctx, q, actor, "media.deleted", m, map[string]any{"filename": m.Filename})
	})
	return m, err
}

// MediaStale returns uploads asked for before before and never
// confirmed.
func (s *Store) MediaStale(ctx context.Context, before time.Time) ([]Media, error) {
	rows, err := s.q.MediaStalePending(ctx, before)
	if err != nil {
		return nil, classify(fmt.Errorf("list stale uploads: %w", err))
	}
	return mapRows(rows, mediaFromRow), nil
}

// MediaForget deletes the record of an upload that was never confirmed.
func (s *Store) MediaForget(ctx context.Context, id int64) error {
	_, err := s.q.MediaDelete(ctx, id)
	return classify(err)
}

func (m Media) auditTarget() (string, string) { return "media", strconv.FormatInt(m.ID, 10) }

func mediaFromRow(r db.Medium) Media {
	return Media{
		ID: r.ID, Key: r.Key, Filename: r.Filename, ContentType: r.ContentType, SizeBytes: r.SizeBytes,
		Status: r.Status, CreatedAt: r.CreatedAt,
	}
}
