package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"keel/cache"
)

// Dashboard is the lead pipeline at a glance.
type Dashboard struct {
	Total    int64
	ByStatus []StatusCount
	// PerDay counts new leads for each of the last 30 days, oldest
	// first, days without leads included.
	PerDay []DayCount
	Funnel []FunnelStep
	Recent []LeadEvent
	// At is when the numbers were computed; they are cached briefly.
	At time.Time
}

// StatusCount is how many leads have one status.
type StatusCount struct {
	Status string
	Count  int64
}

// DayCount is how many leads arrived on one day (UTC).
type DayCount struct {
	Day   time.Time
	Count int64
}

// FunnelStep is how many leads reached a stage of the pipeline: a lead
// in a later stage has passed the earlier ones. Lost leads count only
// in the first step, since where they were lost is not recorded.
type FunnelStep struct {
	Label   string
	Count   int64
	Percent float64 // of the first step
}

// Dashboard returns the pipeline's numbers, through the cache: every
// lead write invalidates them.
func (s *Store) Dashboard(ctx context.Context) (Dashboard, error) {
	if s.cache == nil {
		return s.dashboard(ctx)
	}
	return cache.Get(ctx, s.cache, dashboardKey, time.Minute, s.dashboard)
}

func (s *Store) dashboard(ctx context.Context) (Dashboard, error) {
	d := Dashboard{At: time.Now().UTC()}

	counts, err := s.q.LeadCountByStatus(ctx)
	if err != nil {
		return d, classify(fmt.Errorf("count leads by status: %w", err))
	}
	byStatus := map[string]int64{}
	for _, c := range counts {
		byStatus[c.Status] = c.N
		d.Total += c.N
	}
	for _, st := range LeadStatuses {
		d.ByStatus = append(d.ByStatus, StatusCount{Status: st, Count: byStatus[st]})
	}
	d.Funnel = funnel(d.Total, byStatus)

	today := d.At.Truncate(24 * time.Hour)
	since := today.AddDate(0, 0, -29)
	days, err := s.q.LeadNewPerDay(ctx, since)
	if err != nil {
		return d, classify(fmt.Errorf("count new leads per day: %w", err))
	}
	perDay := map[time.Time]int64{}
	for _, r := range days {
		perDay[r.Day.UTC()] = r.N
	}
	for day := since; !day.After(today); day = day.AddDate(0, 0, 1) {
		d.PerDay = append(d.PerDay, DayCount{Day: day, Count: perDay[day]})
	}

	recent, err := s.q.LeadEventRecent(ctx, 10)
	if err != nil {
		return d, classify(fmt.Errorf("recent lead events: %w", err))
	}
	for _, r := range recent {
		e := LeadEvent{ID: r.ID, LeadID: r.LeadID, LeadName: r.LeadName, ActorName: r.ActorName, Kind: r.Kind, At: r.At}
		_ = json.Unmarshal(r.Detail, &e.Detail)
		d.Recent = append(d.Recent, e)
	}
	return d, nil
}

func funnel(total int64, by map[string]int64) []FunnelStep {
	won := by[LeadWon]
	qualified := by[LeadQualified] + won
	contacted := by[LeadContacted] + qualified
	steps := []FunnelStep{
		{Label: "All leads", Count: total},
		{Label: "Contacted", Count: contacted},
		{Label: "Qualified", Count: qualified},
		{Label: "Won", Count: won},
	}
	for i := range steps {
		if total > 0 {
			steps[i].Percent = float64(steps[i].Count) * 100 / float64(total)
		}
	}
	return steps
}
