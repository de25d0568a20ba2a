package store_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"keel/store"
	"keel/testenv"
)

func TestLeadDuplicateByPhone(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := newStore(t)
	phone := "+44 (0)20 " + testenv.Unique("")[len(testenv.Unique(""))-6:]
	first, err := s.LeadCreate(ctx, store.Actor{}, store.ContactRequest{
		Name: "Phone One", Email: testenv.Unique("p1") + "@example.com", Phone: phone, Message: "First call.",
	}, nil)
	require.NoError(t, err)
	require.Nil(t, first.DuplicateOf)

	second, err := s.LeadCreate(ctx, store.Actor{}, store.ContactRequest{
		Name: "Phone Two", Email: testenv.Unique("p2") + "@example.com", Phone: " 44020" + phone[len(phone)-6:],
		Message: "Second call.",
	}, nil)
	require.NoError(t, err)
	require.NotNil(t, second.DuplicateOf)
	require.Equal(t, first.ID, *second.DuplicateOf)
}

// LeadEach walks a long list a page at a time and stops at its bound.
func TestLeadEach(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, tx := newStore(t)
	tag := testenv.Unique("each")
	_, err := tx.Exec(ctx, `INSERT INTO leads (name, email, company, message, source, created_at)
		SELECT 'Each ' || i, $1 || '-' || i || '@example.com', $1, 'Bulk lead.', 'import',
		       now() - i * interval '1 second'
		FROM generate_series(1, 2500) AS i`, tag)
	require.NoError(t, err)

	count := 0
	more, err := s.LeadEach(ctx, store.LeadFilter{Search: tag, Sort: store.SortOldest}, 10_000, func(store.Lead) error {
		count++
		return nil
	})
	require.NoError(t, err)
	require.False(t, more)
	require.Equal(t, 2500, count)

	count = 0
	more, err = s.LeadEach(ctx, store.LeadFilter{Search: tag}, 1200, func(store.Lead) error {
		count++
		return nil
	})
	require.NoError(t, err)
	require.True(t, more, "the bound was reached")
	require.Equal(t, 1200, count)
}

func TestDashboard(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := newStore(t)
	before, err := s.Dashboard(ctx)
	require.NoError(t, err)

	tag := testenv.Unique("dash")
	for i := range 3 {
		l, err := s.LeadCreate(ctx, store.Actor{}, store.ContactRequest{
			Name: "Dash " + tag, Email: tag + string(rune('a'+i)) + "@example.com", Message: "For the dashboard.",
		}, nil)
		require.NoError(t, err)
		_, err = s.LeadSetStatus(ctx, store.Actor{}, l.ID, store.LeadWon)
		require.NoError(t, err)
	}

	after, err := s.Dashboard(ctx)
	require.NoError(t, err)
	require.GreaterOrEqual(t, after.Total-before.Total, int64(3))
	won := func(d store.Dashboard) int64 { return d.ByStatus[3].Count }
	require.Equal(t, store.LeadWon, after.ByStatus[3].Status)
	require.GreaterOrEqual(t, won(after)-won(before), int64(3))
	require.Len(t, after.PerDay, 30)
	require.GreaterOrEqual(t, after.PerDay[29].Count, int64(3), "today's bar")
	require.Equal(t, "Won", after.Funnel[3].Label)
	require.GreaterOrEqual(t, after.Funnel[3].Count, int64(3))
	require.InDelta(t, 100, after.Funnel[0].Percent, 0.001)
	require.NotEmpty(t, after.Recent)
}
