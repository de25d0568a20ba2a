package handlers_test

import (
	"context"
	"encoding/csv"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/stretchr/testify/require"

	"keel/app"
	"keel/auth"
	"keel/store"
	"keel/testenv"
)

// leadSet creates leads tagged with a unique company, so list tests can
// look at theirs alone.
type leadSet struct {
	tag   string
	leads []store.Lead
}

func newLeads(t *testing.T, a *app.App, actor store.User, specs ...string) leadSet {
	t.Helper()
	set := leadSet{tag: testenv.Unique("co")}
	for i, name := range specs {
		l, err := a.Store.LeadCreate(context.Background(), store.Actor{ID: actor.ID, Email: actor.Email},
			store.ContactRequest{
				Name:    name,
				Email:   strings.ToLower(strings.ReplaceAll(name, " ", ".")) + "@" + set.tag + ".example",
				Company: set.tag,
				Message: "Lead number " + itoa(int64(i)),
			}, nil)
		require.NoError(t, err)
		set.leads = append(set.leads, l)
	}
	return set
}

func names(d *goquery.Document) []string {
	var out []string
	d.Find("#lead-results tbody tr td a").Each(func(_ int, s *goquery.Selection) {
		out = append(out, s.Text())
	})
	return out
}

func TestLeadListFilters(t *testing.T) {
	t.Parallel()
	a, _ := newApp(t)
	c, me := signedIn(t, a, auth.RoleAdmin)
	set := newLeads(t, a, me, "Cleo Alpha", "Bea Bravo", "Ada Charlie", "Dee Delta")
	ctx := context.Background()
	actor := store.Actor{ID: me.ID, Email: me.Email}
	_, err := a.Store.LeadSetStatus(ctx, actor, set.leads[1].ID, store.LeadWon)
	require.NoError(t, err)
	_, err = a.Store.LeadAssign(ctx, actor, set.leads[2].ID, &me.ID)
	require.NoError(t, err)

	list := func(query string) []string {
		rec := c.Get("/admin/leads?q=" + set.tag + "&" + query)
		require.Equal(t, http.StatusOK, rec.Code, query)
		return names(doc(t, rec))
	}

	require.Equal(t, []string{"Dee Delta", "Ada Charlie", "Bea Bravo", "Cleo Alpha"}, list(""), "newest first")
	require.Equal(t, []string{"Cleo Alpha", "Bea Bravo", "Ada Charlie", "Dee Delta"}, list("sort=oldest"))
	require.Equal(t, []string{"Ada Charlie", "Bea Bravo", "Cleo Alpha", "Dee Delta"}, list("sort=name"))
	require.Equal(t, []string{"Bea Bravo"}, list("status=WON"))
	require.Equal(t, []string{"Ada Charlie"}, list("owner=me"))
	require.Equal(t, []string{"Ada Charlie"}, list("owner="+itoa(me.ID)))
	require.Len(t, list("owner=none"), 3)
	today := time.Now().UTC().Format(time.DateOnly)
	require.Len(t, list("since="+today+"&until="+today), 4)
	require.Empty(t, list("until=2001-01-01"))

	// Search matches name, email or company, in any case; LIKE's
	// wildcards are taken literally.
	rec := c.Get("/admin/leads?q=" + url.QueryEscape("BEA.BRAVO@"+strings.ToUpper(set.tag)))
	require.Equal(t, []string{"Bea Bravo"}, names(doc(t, rec)))
	require.Empty(t, names(doc(t, c.Get("/admin/leads?q="+set.tag+"%25"))))
	require.Empty(t, names(doc(t, c.Get("/admin/leads?q="+url.QueryEscape("'; DROP TABLE leads; --")))))

	// htmx gets the results alone, and the filter stays in the URL.
	c.Header.Set("HX-Request", "true")
	rec = c.Get("/admin/leads?status=WON&q=" + set.tag)
	c.Header.Del("HX-Request")
	require.NotContains(t, rec.Body.String(), "<html")
	require.Equal(t, []string{"Bea Bravo"}, names(doc(t, rec)))
}

// Keyset paging walks the whole list once, in order, in every sort.
func TestLeadListPages(t *testing.T) {
	t.Parallel()
	a, _ := newApp(t)
	c, me := signedIn(t, a, auth.RoleSupport)
	var specs []string
	for i := range 60 {
		specs = append(specs, "Page Person "+string(rune('A'+i%26))+itoa(int64(i)))
	}
	set := newLeads(t, a, me, specs...)

	for _, sort := range store.LeadSorts {
		seen := map[string]bool{}
		next := "/admin/leads?per=25&sort=" + sort + "&q=" + set.tag
		pages := 0
		for next != "" {
			d := doc(t, c.Get(next))
			for _, n := range names(d) {
				require.False(t, seen[n], "%s listed twice (%s)", n, sort)
				seen[n] = true
			}
			next, _ = d.Find(`#lead-results a.btn:contains("Next page")`).Attr("href")
			pages++
			require.Less(t, pages, 10)
		}
		require.Len(t, seen, 60, sort)
		require.Equal(t, 3, pages, sort)
	}
}

// Unknown filter values are refused with a message and 400.
func TestLeadListBadFilters(t *testing.T) {
	t.Parallel()
	a, _ := newApp(t)
	c, _ := signedIn(t, a, auth.RoleSupport)

	for _, q := range []string{
		"status=MAYBE", "sort=email", "sort=created_at%3BDROP", "per=7", "owner=999999999", "owner=someone",
		"since=yesterday", "until=2026-02-30", "after=nonsense", "after=12%3Axyz",
		"q=" + strings.Repeat("x", 101), "q=a%00b", "q=ab", "q=%25", "sort=name&after=1%3A%FF",
	} {
		rec := c.Get("/admin/leads?" + q)
		require.Equal(t, http.StatusBadRequest, rec.Code, q)
		require.NotEmpty(t, doc(t, rec).Find(`#lead-results [role="alert"]`).Text(), q)
	}
}

func TestLeadDetailChanges(t *testing.T) {
	t.Parallel()
	a, tx := newApp(t)
	c, me := signedIn(t, a, auth.RoleAdmin)
	other := testenv.CreateUser(t, a, auth.RoleSupport)
	l := newLeads(t, a, me, "Greta Garbo").leads[0]
	base := "/admin/leads/" + itoa(l.ID)

	require.Equal(t, http.StatusSeeOther, c.Post(base+"/status", url.Values{"status": {"CONTACTED"}}).Code)
	require.Equal(t, http.StatusSeeOther, c.Post(base+"/owner", url.Values{"owner": {itoa(other.ID)}}).Code)
	require.Equal(t, http.StatusSeeOther, c.Post(base+"/notes", url.Values{"body": {"Called; wants a quote by Friday."}}).Code)

	d := doc(t, c.Get(base))
	require.Contains(t, d.Find(".facts").Text(), "CONTACTED")
	require.Contains(t, d.Find(".facts").Text(), other.Name)
	require.Contains(t, d.Find(".note-body").Text(), "wants a quote by Friday")
	timeline := d.Find(".timeline").Text()
	require.Contains(t, timeline, "created the lead")
	require.Contains(t, timeline, "changed the status from NEW to CONTACTED")
	require.Contains(t, timeline, "assigned it to "+other.Name)
	require.Contains(t, timeline, "added a note")
	for _, action := range []string{"lead.status_changed", "lead.assigned", "lead.note_added"} {
		require.Equal(t, 1, countRows(t, tx, "SELECT count(*) FROM audit_log WHERE action = $1 AND target_id = $2", action, itoa(l.ID)), action)
	}

	// Bad values are refused, and nothing changes.
	require.Equal(t, http.StatusUnprocessableEntity, c.Post(base+"/status", url.Values{"status": {"SOLD"}}).Code)
	require.Equal(t, http.StatusUnprocessableEntity, c.Post(base+"/owner", url.Values{"owner": {"424242424"}}).Code)
	rec := c.Post(base+"/notes", url.Values{"body": {"   "}})
	require.Equal(t, http.StatusUnprocessableEntity, rec.Code)
	require.Contains(t, doc(t, rec).Find("#lead-note-error").Text(), "write the note")
	require.Equal(t, http.StatusNotFound, c.Get("/admin/leads/999999999").Code)

	// A support user reads the lead but is offered no change.
	support, _ := signedIn(t, a, auth.RoleSupport)
	d = doc(t, support.Get(base))
	require.Equal(t, 0, d.Find("#lead-status-set, #lead-owner-set, #lead-note").Length())
	d = doc(t, support.Get("/admin/leads?q="+url.QueryEscape(l.Email)))
	require.Equal(t, 1, d.Find("#lead-results tbody tr").Length())
	require.Equal(t, 0, d.Find(`#lead-results input[type="checkbox"], .bulk`).Length())
}

// A bulk change applies to every selected lead, or to none.
func TestLeadBulkUpdate(t *testing.T) {
	t.Parallel()
	a, _ := newApp(t)
	c, me := signedIn(t, a, auth.RoleAdmin)
	set := newLeads(t, a, me, "Bulk One", "Bulk Two", "Bulk Three")
	form := url.Values{"status": {"QUALIFIED"}, "owner": {itoa(me.ID)}}
	for _, l := range set.leads[:2] {
		form.Add("id", itoa(l.ID))
	}

	rec := c.Post("/admin/leads/bulk", form)
	require.Equal(t, http.StatusSeeOther, rec.Code)
	require.Equal(t, []string{"Bulk Two", "Bulk One"}, names(doc(t, c.Get("/admin/leads?status=QUALIFIED&owner=me&q="+set.tag))))

	form.Set("status", "WON")
	form.Add("id", "999999999")
	require.Equal(t, http.StatusUnprocessableEntity, c.Post("/admin/leads/bulk", form).Code)
	require.Empty(t, names(doc(t, c.Get("/admin/leads?status=WON&q="+set.tag))), "nothing changed")

	require.Equal(t, http.StatusUnprocessableEntity, c.Post("/admin/leads/bulk", url.Values{"status": {"WON"}}).Code, "no selection")
	require.Equal(t, http.StatusUnprocessableEntity,
		c.Post("/admin/leads/bulk", url.Values{"id": {itoa(set.leads[2].ID)}}).Code, "nothing to do")
}

// A new lead with the email or phone of an earlier one is flagged; staff
// merge it, and its notes and timeline move to the survivor.
func TestLeadDuplicatesAndMerge(t *testing.T) {
	t.Parallel()
	a, tx := newApp(t)
	c, me := signedIn(t, a, auth.RoleAdmin)
	first := newLeads(t, a, me, "Dana Dup").leads[0]

	form := validContact(strings.ToUpper(first.Email))
	form.Del("phone")
	require.Equal(t, http.StatusSeeOther, postForm(t, a, "/contact", form).Code)
	var dupID int64
	require.NoError(t, tx.QueryRow(context.Background(),
		"SELECT id FROM leads WHERE duplicate_of = $1", first.ID).Scan(&dupID))

	require.Contains(t, doc(t, c.Get("/admin/leads?q="+url.QueryEscape(first.Email))).Find(".badge-warn").Text(), "possible duplicate")
	require.Equal(t, http.StatusSeeOther, c.Post("/admin/leads/"+itoa(dupID)+"/notes", url.Values{"body": {"Second enquiry."}}).Code)

	d := doc(t, c.Get("/admin/leads/"+itoa(dupID)))
	action, _ := d.Find(`.alert-warn form`).Attr("action")
	require.Equal(t, "/admin/leads/"+itoa(first.ID)+"/merge", action)
	require.Equal(t, http.StatusSeeOther, c.Post(action, url.Values{"merged": {itoa(dupID)}}).Code)

	d = doc(t, c.Get("/admin/leads/"+itoa(first.ID)))
	require.Contains(t, d.Find(".note-body").Text(), "Second enquiry.")
	require.Contains(t, d.Find(".timeline").Text(), "merged lead #"+itoa(dupID))
	require.Len(t, names(doc(t, c.Get("/admin/leads?q="+url.QueryEscape(first.Email)))), 1, "the merged lead left the list")
	require.Equal(t, 1, countRows(t, tx, "SELECT count(*) FROM audit_log WHERE action = 'lead.merged' AND target_id = $1", itoa(first.ID)))

	// Merging again, or a lead into itself, is refused.
	require.Equal(t, http.StatusUnprocessableEntity, c.Post(action, url.Values{"merged": {itoa(dupID)}}).Code)
	require.Equal(t, http.StatusUnprocessableEntity, c.Post(action, url.Values{"merged": {itoa(first.ID)}}).Code)
}

func TestLeadExport(t *testing.T) {
	t.Parallel()
	a, tx := newApp(t)
	c, me := signedIn(t, a, auth.RoleAdmin)
	set := newLeads(t, a, me, "Exp One", "=HYPERLINK(\"x\") Two", "Exp Three")
	_, err := a.Store.LeadSetStatus(context.Background(), store.Actor{ID: me.ID}, set.leads[2].ID, store.LeadLost)
	require.NoError(t, err)

	rec := c.Post("/admin/leads/export.csv?q="+set.tag+"&status=NEW&sort=oldest", nil)
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, "text/csv; charset=utf-8", rec.Header().Get("Content-Type"))
	require.Contains(t, rec.Header().Get("Content-Disposition"), "attachment")
	rows, err := csv.NewReader(strings.NewReader(rec.Body.String())).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 3, "header and the two NEW leads")
	require.Equal(t, "id", rows[0][0])
	require.Equal(t, "Exp One", rows[1][3])
	require.Equal(t, `'=HYPERLINK("x") Two`, rows[2][3], "formulas are defused")
	require.Equal(t, 1, countRows(t, tx, "SELECT count(*) FROM audit_log WHERE action = 'lead.exported' AND actor_id = $1", me.ID))
	require.Equal(t, 1, countRows(t, tx, `SELECT count(*) FROM audit_log WHERE action = 'lead.export_finished'
		AND actor_id = $1 AND detail->>'rows' = '2' AND detail->>'truncated' = 'false'`, me.ID))

	require.Equal(t, http.StatusBadRequest, c.Post("/admin/leads/export.csv?status=NOPE", nil).Code)
	// A link from another site cannot start an export: it is a POST with
	// the CSRF token.
	require.Contains(t, []int{http.StatusNotFound, http.StatusMethodNotAllowed}, c.Get("/admin/leads/export.csv").Code)
}

// A merged lead takes no more changes, alone or in bulk, and merges do
// not chain.
func TestMergedLeadRefusesChanges(t *testing.T) {
	t.Parallel()
	a, tx := newApp(t)
	c, me := signedIn(t, a, auth.RoleAdmin)
	set := newLeads(t, a, me, "Keep Me", "Merge Me", "Merge Me Later")
	keep, gone, later := set.leads[0], set.leads[1], set.leads[2]
	ctx := context.Background()
	_, err := a.Store.LeadMerge(ctx, store.Actor{ID: me.ID}, later.ID, gone.ID)
	require.NoError(t, err)

	base := "/admin/leads/" + itoa(gone.ID)
	require.Equal(t, http.StatusUnprocessableEntity, c.Post(base+"/status", url.Values{"status": {"WON"}}).Code)
	require.Equal(t, http.StatusUnprocessableEntity, c.Post(base+"/owner", url.Values{"owner": {itoa(me.ID)}}).Code)
	require.Equal(t, http.StatusUnprocessableEntity, c.Post(base+"/notes", url.Values{"body": {"Stranded?"}}).Code)
	require.Equal(t, http.StatusUnprocessableEntity,
		c.Post("/admin/leads/bulk", url.Values{"id": {itoa(keep.ID), itoa(gone.ID)}, "status": {"WON"}}).Code)
	require.Empty(t, names(doc(t, c.Get("/admin/leads?status=WON&q="+set.tag))), "the bulk change was all or nothing")

	// Merging the survivor on moves the earlier merge along.
	_, err = a.Store.LeadMerge(ctx, store.Actor{ID: me.ID}, keep.ID, later.ID)
	require.NoError(t, err)
	require.Zero(t, countRows(t, tx, `SELECT count(*) FROM leads l JOIN leads m ON l.merged_into = m.id
		WHERE m.merged_into IS NOT NULL`), "no lead is merged into a merged lead")
	require.Equal(t, 2, countRows(t, tx, "SELECT count(*) FROM leads WHERE merged_into = $1", keep.ID))
}

// Two bulk changes over the same leads, in opposite orders, both finish.
func TestLeadBulkConcurrent(t *testing.T) {
	t.Parallel()
	a := testenv.NewApp(t, app.Options{Conn: testenv.Pool(t)})
	c, me := signedIn(t, a, auth.RoleAdmin)
	set := newLeads(t, a, me, "Bulk A", "Bulk B", "Bulk C", "Bulk D", "Bulk E", "Bulk F")

	forward, backward := url.Values{"status": {"LOST"}}, url.Values{"status": {"WON"}}
	for i := range set.leads {
		forward.Add("id", itoa(set.leads[i].ID))
		backward.Add("id", itoa(set.leads[len(set.leads)-1-i].ID))
	}
	codes := make(chan int, 2)
	go func() { codes <- c.Post("/admin/leads/bulk", forward).Code }()
	go func() { codes <- c.Post("/admin/leads/bulk", backward).Code }()
	require.Equal(t, http.StatusSeeOther, <-codes)
	require.Equal(t, http.StatusSeeOther, <-codes)
}

// Leads owned by a disabled user stay findable by owner.
func TestLeadListDisabledOwner(t *testing.T) {
	t.Parallel()
	a, _ := newApp(t)
	c, me := signedIn(t, a, auth.RoleAdmin)
	leaver := testenv.CreateUser(t, a, auth.RoleSupport)
	set := newLeads(t, a, me, "Left Behind")
	ctx := context.Background()
	_, err := a.Store.LeadAssign(ctx, store.Actor{ID: me.ID}, set.leads[0].ID, &leaver.ID)
	require.NoError(t, err)
	_, err = a.Store.UserSetStatus(ctx, store.Actor{}, leaver.ID, store.UserDisabled)
	require.NoError(t, err)

	d := doc(t, c.Get("/admin/leads?owner="+itoa(leaver.ID)+"&q="+set.tag))
	require.Equal(t, []string{"Left Behind"}, names(d))
	require.Contains(t, d.Find("#lead-results tbody").Text(), leaver.Name)
}
