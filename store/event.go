package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"keel/db"
)

// Event is one thing live streams deliver: a staff notification, a step
// of an order, or a change to a user's access. Events are written in the
// transaction of the change they report (so one exists exactly when the
// change does) and kept for replay and history.
type Event struct {
	ID    int64
	Topic string
	Kind  string
	// Permission a staff member needs to see the event; UserID, when
	// set, narrows it to that user.
	Permission string
	UserID     *int64
	// Data says what the event is about: ids, names, a status.
	Data      map[string]string
	CreatedAt time.Time
}

// Notification is a staff event as one user sees it.
type Notification struct {
	Event
	Read bool
}

// Topics.
const (
	TopicStaff = "staff"
)

// OrderTopic is the topic of one order's status page.
func OrderTopic(token string) string { return "order:" + token }

// UserTopic is the topic of changes to one user's access.
func UserTopic(id int64) string { return "user:" + strconv.FormatInt(id, 10) }

// Event kinds.
const (
	EventLeadCreated   = "lead.created"
	EventLeadAssigned  = "lead.assigned"
	EventOrderCreated  = "order.created"
	EventOrderFailed   = "order.failed"
	EventJobDiscarded  = "job.discarded"
	EventOrderStatus   = "order.status"
	EventAccessChanged = "user.access"
	EventSignedOut     = "user.signed_out"
)

// NotificationPermissions lists every permission a staff event may
// require; a user sees the events of those their role holds.
var NotificationPermissions = []string{"leads:read", "orders:read", "jobs:read"}

// eventLockKey is the advisory lock every event writer holds until it
// commits. Holding it from the insert to the commit makes ids follow
// commit order: a stream that has delivered id n has seen every event
// below n, which is what makes Last-Event-ID replay exact. The lock is
// taken as the last step of a transaction, so it is held only for the
// insert and the commit.
const eventLockKey = 0x6b65656c_0001 // "keel", 1

// addEvent records e inside the caller's transaction. Call it last in
// the transaction.
func addEvent(ctx context.Context, q *db.Queries, e Event) error {
	data, err := json.Marshal(e.Data)
	if err != nil {
		return fmt.Errorf("encode event: %w", err)
	}
	if e.Data == nil {
		data = []byte("{}")
	}
	_, err = q.EventInsert(ctx, db.EventInsertParams{
		Topic: e.Topic, Kind: e.Kind, Permission: e.Permission, UserID: e.UserID, Data: data,
		LockKey: eventLockKey,
	})
	if err != nil {
		return fmt.Errorf("insert event: %w", err)
	}
	return nil
}

// EventAdd records one event on its own, for events that report no
// change of Keel's own data (a job given up by River), and signals the
// servers.
func (s *Store) EventAdd(ctx context.Context, e Event) error {
	err := s.inTx(ctx, func(_ pgx.Tx, q *db.Queries) error { return addEvent(ctx, q, e) })
	if err == nil {
		s.signal(ctx)
	}
	return err
}

// EventsAfter returns up to limit events with ids above after, oldest
// first.
func (s *Store) EventsAfter(ctx context.Context, after int64, limit int32) ([]Event, error) {
	rows, err := s.q.EventListAfter(ctx, db.EventListAfterParams{After: after, RowLimit: limit})
	if err != nil {
		return nil, classify(fmt.Errorf("list events: %w", err))
	}
	return mapRows(rows, eventFromRow), nil
}

// EventLatestID returns the id of the newest event, or 0.
func (s *Store) EventLatestID(ctx context.Context) (int64, error) {
	id, err := s.q.EventLatestID(ctx)
	if err != nil {
		return 0, classify(fmt.Errorf("latest event: %w", err))
	}
	return id, nil
}

// EventPrune deletes events older than before, and returns how many.
func (s *Store) EventPrune(ctx context.Context, before time.Time) (int64, error) {
	n, err := s.q.EventPrune(ctx, before)
	if err != nil {
		return 0, classify(fmt.Errorf("prune events: %w", err))
	}
	return n, nil
}

// Viewer is whom staff notifications are read for: a user and the
// permissions (of NotificationPermissions) their role holds.
type Viewer struct {
	UserID      int64
	Permissions []string
}

// Sees reports whether the viewer may see a staff event.
func (v Viewer) Sees(e Event) bool {
	return e.Topic == TopicStaff && slices.Contains(v.Permissions, e.Permission) &&
		(e.UserID == nil || *e.UserID == v.UserID)
}

// Notifications returns the viewer's newest notifications with ids
// below before (0: from the newest).
func (s *Store) Notifications(ctx context.Context, v Viewer, before int64, limit int32) ([]Notification, error) {
	if before <= 0 {
		before = 1<<63 - 1
	}
	rows, err := s.q.NotificationList(ctx, db.NotificationListParams{
		UserID: v.UserID, Permissions: v.Permissions, Before: before, RowLimit: limit,
	})
	if err != nil {
		return nil, classify(fmt.Errorf("list notifications: %w", err))
	}
	return mapRows(rows, func(r db.NotificationListRow) Notification {
		return Notification{Event: eventFromRow(db.Event{
			ID: r.ID, Topic: r.Topic, Kind: r.Kind, Permission: r.Permission, UserID: r.UserID,
			Data: r.Data, CreatedAt: r.CreatedAt,
		}), Read: r.Read}
	}), nil
}

// NotificationsBetween returns the viewer's notifications with ids in
// (after, upto], oldest first: what a reconnecting stream missed.
func (s *Store) NotificationsBetween(ctx context.Context, v Viewer, after, upto int64, limit int32) ([]Event, error) {
	rows, err := s.q.NotificationListAfter(ctx, db.NotificationListAfterParams{
		UserID: v.UserID, Permissions: v.Permissions, After: after, Upto: upto, RowLimit: limit,
	})
	if err != nil {
		return nil, classify(fmt.Errorf("list missed notifications: %w", err))
	}
	return mapRows(rows, eventFromRow), nil
}

// NotificationUnread counts the viewer's unread notifications.
func (s *Store) NotificationUnread(ctx context.Context, v Viewer) (int64, error) {
	n, err := s.q.NotificationUnreadCount(ctx, db.NotificationUnreadCountParams{
		UserID: v.UserID, Permissions: v.Permissions,
	})
	if err != nil {
		return 0, classify(fmt.Errorf("count unread notifications: %w", err))
	}
	return n, nil
}

// NotificationRead marks one notification read. One the viewer may not
// see is ErrNotFound.
func (s *Store) NotificationRead(ctx context.Context, v Viewer, id int64) error {
	n, err := s.q.NotificationMarkRead(ctx, db.NotificationMarkReadParams{
		UserID: v.UserID, ID: id, Permissions: v.Permissions,
	})
	if err != nil {
		return classify(fmt.Errorf("mark notification read: %w", err))
	}
	if n == 0 {
		// Already read, or not the viewer's: tell them apart.
		list, err := s.Notifications(ctx, v, id+1, 1)
		if err != nil {
			return err
		}
		if len(list) == 0 || list[0].ID != id {
			return ErrNotFound
		}
	}
	return nil
}

// NotificationReadAll marks every notification up to upto read and
// returns how many were unread.
func (s *Store) NotificationReadAll(ctx context.Context, v Viewer, upto int64) (int64, error) {
	n, err := s.q.NotificationMarkAllRead(ctx, db.NotificationMarkAllReadParams{
		UserID: v.UserID, Permissions: v.Permissions, Upto: upto,
	})
	if err != nil {
		return 0, classify(fmt.Errorf("mark notifications read: %w", err))
	}
	return n, nil
}

func eventFromRow(r db.Event) Event {
	e := Event{
		ID: r.ID, Topic: r.Topic, Kind: r.Kind, Permission: r.Permission, UserID: r.UserID,
		CreatedAt: r.CreatedAt,
	}
	_ = json.Unmarshal(r.Data, &e.Data) // written by addEvent from a map
	return e
}
