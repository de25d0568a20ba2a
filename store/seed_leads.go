package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"keel/db"
)

var (
	firstNames = []string{"Ada", "Alan", "Barbara", "Claude", "Dennis", "Edsger", "Frances", "Grace",
		"Hedy", "Ivan", "Jean", "Ken", "Linus", "Margaret", "Niklaus", "Radia", "Rob", "Sophie", "Tim", "Yukihiro"}
	lastNames = []string{"Allen", "Bartik", "Cerf", "Dijkstra", "Engelbart", "Floyd", "Goldberg", "Hamilton",
		"Iverson", "Johnson", "Kernighan", "Lamport", "Liskov", "Moore", "Norvig", "Perlman", "Ritchie",
		"Sammet", "Thompson", "Wirth"}
	companies = []string{"", "Acme Bakery", "Blue Harbor Dental", "Copperleaf Studio", "Delta Freight",
		"Evergreen Gardens", "Foxglove Books", "Granite Plumbing", "Harbor Lights Hotel", "Ironwood Joinery",
		"Juniper Yoga", "Kestrel Cycles", "Lantern Cafe", "Meadow Vets", "Northwind Travel"}
	domains  = []string{"example.com", "example.org", "example.net", "mail.example", "post.example"}
	messages = []string{
		"We need a new booking site before the season starts.",
		"Our order desk runs on spreadsheets. Can you help?",
		"Looking for someone to maintain our customer portal.",
		"Quote for a staff scheduling tool, please.",
		"Can you review our web shop's performance?",
	}
)

// SeedLeads loads n generated leads with COPY, in batches so memory stays
// bounded, spread over the last two years with a realistic mix of
// statuses and some repeated contacts (duplicates). It is for demos and
// benchmarks; it is not idempotent.
func (s *Store) SeedLeads(ctx context.Context, n int, progress func(done int)) error {
	const batch = 20_000
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 42)) //nolint:gosec // G404: demo data needs no secrecy.
	now := time.Now()

	for done := 0; done < n; {
		size := min(batch, n-done)
		rows := make([]db.LeadCopyParams, size)
		for i := range rows {
			rows[i] = fakeLead(rng, done+i, now)
		}
		if _, err := s.q.LeadCopy(ctx, rows); err != nil {
			return classify(fmt.Errorf("copy leads: %w", err))
		}
		done += size
		if progress != nil {
			progress(done)
		}
	}
	s.invalidate(ctx, dashboardKey)
	return nil
}

func fakeLead(rng *rand.Rand, i int, now time.Time) db.LeadCopyParams {
	first := firstNames[rng.IntN(len(firstNames))]
	last := lastNames[rng.IntN(len(lastNames))]
	// One contact in twenty reuses an earlier person's address.
	n := i
	if rng.IntN(20) == 0 && i > 0 {
		n = rng.IntN(i)
	}
	email := strings.ToLower(first+"."+last) + strconv.Itoa(n) + "@" + domains[n%len(domains)]

	status := LeadNew
	switch r := rng.IntN(100); {
	case r < 40:
	case r < 60:
		status = LeadContacted
	case r < 75:
		status = LeadQualified
	case r < 85:
		status = LeadWon
	default:
		status = LeadLost
	}

	created := now.Add(-time.Duration(rng.Int64N(int64(2 * 365 * 24 * time.Hour))))
	phone := ""
	if rng.IntN(3) > 0 {
		phone = fmt.Sprintf("+44 20 7946 %04d", rng.IntN(10000))
	}
	return db.LeadCopyParams{
		Name:      first + " " + last,
		Email:     email,
		Phone:     phone,
		Company:   companies[rng.IntN(len(companies))],
		Message:   messages[rng.IntN(len(messages))],
		Source:    "import",
		Status:    status,
		CreatedAt: created,
		UpdatedAt: created,
	}
}
