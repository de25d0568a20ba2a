package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"keel/db"
)

// demoLeads are the leads `keel seed` loads, spread over recent days.
var demoLeads = []struct {
	name, email, phone, company, message, status string
	daysAgo                                      int
}{
	{"Ada Byron", "ada@analytical.example", "+44 20 7946 0001", "Analytical Engines", "We need a booking portal for our workshop courses.", LeadNew, 0},
	{"Grace Hopper", "grace@cobol.example", "+1 202 555 0102", "Compilers Inc", "Our order desk runs on spreadsheets; can you replace it?", LeadContacted, 1},
	{"Alan Turing", "alan@bletchley.example", "", "Bletchley Works", "Looking for someone to maintain our customer site.", LeadQualified, 3},
	{"Katherine Johnson", "katherine@orbit.example", "+1 757 555 0199", "Orbital Paths", "Quote for a staff scheduling tool, please.", LeadWon, 6},
	{"Edsger Dijkstra", "edsger@shortest.example", "+31 20 555 0111", "", "Would like a review of our current web shop.", LeadLost, 9},
	{"Barbara Liskov", "barbara@substitution.example", "", "Abstraction Ltd", "We need an admin portal for our subscription business.", LeadNew, 12},
}

// DemoLogin is a demo user's sign-in, printed by `keel seed`.
type DemoLogin struct {
	Email    string
	Password string
	Role     string
}

// DemoLogins are the users `keel seed` creates, one per role. Their
// passwords are public: Keel refuses to seed in production.
var DemoLogins = []DemoLogin{
	{"superadmin@keel.localhost", "demo-superadmin-pass", "superadmin"},
	{"admin@keel.localhost", "demo-admin-pass", "admin"},
	{"moderator@keel.localhost", "demo-moderator-pass", "moderator"},
	{"editor@keel.localhost", "demo-editor-pass", "editor"},
	{"support@keel.localhost", "demo-support-pass", "support"},
}

// Seed loads Keel's demo data, hashing demo passwords with hash.
// Running it again adds nothing new.
func (s *Store) Seed(ctx context.Context, hash func(string) (string, error)) error {
	if err := s.seedProducts(ctx); err != nil {
		return err
	}
	for _, d := range DemoLogins {
		h, err := hash(d.Password)
		if err != nil {
			return err
		}
		err = s.q.UserSeed(ctx, db.UserSeedParams{
			Email:        d.Email,
			Name:         "Demo " + d.Role,
			Role:         d.Role,
			PasswordHash: h,
		})
		if err != nil {
			return classify(fmt.Errorf("seed user %s: %w", d.Email, err))
		}
	}

	now := time.Now()
	for _, l := range demoLeads {
		err := s.q.LeadSeed(ctx, db.LeadSeedParams{
			Name:      l.name,
			Email:     l.email,
			Phone:     l.phone,
			Company:   l.company,
			Message:   l.message,
			Status:    l.status,
			CreatedAt: now.AddDate(0, 0, -l.daysAgo),
		})
		if err != nil {
			return classify(fmt.Errorf("seed lead %s: %w", l.email, err))
		}
	}
	return s.seedPosts(ctx)
}

// demoPosts are the blog's demo posts: published ones with tags, and a
// draft the public does not see.
var demoPosts = []struct {
	in        PostInput
	published bool
}{
	{PostInput{
		Title: "Welcome to the Keel blog", Slug: "welcome", Excerpt: "What we do, and what you will read here.",
		Tags: []string{"news"},
		BodyMD: "We run events, training and support for teams like yours.\n\n" +
			"Here you will find **news**, customer stories and notes from the workshop.\n\n" +
			"- Order from the [catalogue](/catalogue) and follow your order live.\n" +
			"- Ask us anything through the [contact form](/contact).\n",
	}, true},
	{PostInput{
		Title: "How an order is processed", Slug: "how-an-order-is-processed",
		Excerpt: "From the moment you order to the invoice in your inbox.",
		Tags:    []string{"orders", "how-to"},
		BodyMD: "## Ordering\n\nYou choose from the catalogue and send the order. We answer at once; " +
			"the rest happens in the background.\n\n## Processing\n\n" +
			"The invoice is made, then emailed. The order page shows each step as it happens.\n\n" +
			"| Step | Usually takes |\n|---|---|\n| Invoice | a second |\n| Email | a few seconds |\n",
	}, true},
	{PostInput{
		Title: "Spring workshop dates (draft)", Slug: "spring-workshop-dates",
		Excerpt: "Not published yet.", Tags: []string{"events"},
		BodyMD: "Dates to be confirmed.",
	}, false},
}

// seedPosts adds the demo posts that are not there yet, as the demo
// editor.
func (s *Store) seedPosts(ctx context.Context) error {
	editor, err := s.UserGetByEmail(ctx, "editor@keel.localhost")
	if err != nil {
		return fmt.Errorf("seed posts: %w", err)
	}
	actor := Actor{ID: editor.ID, Email: editor.Email}
	for _, d := range demoPosts {
		_, err := s.q.PostGetBySlug(ctx, d.in.Slug)
		if err == nil {
			continue // there already, perhaps edited since
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return classify(fmt.Errorf("seed post %s: %w", d.in.Slug, err))
		}
		p, err := s.PostCreate(ctx, actor, d.in)
		if err != nil {
			return fmt.Errorf("seed post %s: %w", d.in.Slug, err)
		}
		if d.published {
			if _, err := s.PostPublish(ctx, actor, p.ID); err != nil {
				return fmt.Errorf("publish post %s: %w", d.in.Slug, err)
			}
		}
	}
	return nil
}
