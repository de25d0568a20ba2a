package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"keel/auth"
	"keel/store"
	"keel/views"
)

// Page sizes the lead list offers; the first is the default.
var leadPageSizes = []int32{50, 25, 100}

// leadQuery is the lead list's state as it lives in the URL: filters,
// sort, page size and cursor.
type leadQuery struct {
	filter store.LeadFilter
	owner  string // "", "me", "none" or a user id, as in the URL
	since  string
	until  string
}

// parseLeadQuery reads the list's URL query. A value outside what the
// list offers is an error with a message for the person who sent it.
// known says whether a user id exists (disabled users included: their
// leads must stay findable).
func parseLeadQuery(q url.Values, viewer store.User, known func(int64) bool) (leadQuery, error) {
	lq := leadQuery{owner: q.Get("owner"), since: q.Get("since"), until: q.Get("until")}
	f := &lq.filter

	f.Status = q.Get("status")
	if f.Status != "" && !slices.Contains(store.LeadStatuses, f.Status) {
		return lq, fmt.Errorf("there is no status %q", f.Status)
	}

	switch lq.owner {
	case "":
	case "me":
		f.OwnerID = viewer.ID
	case "none":
		f.Unassigned = true
	default:
		id, err := strconv.ParseInt(lq.owner, 10, 64)
		if err != nil || !known(id) {
			return lq, fmt.Errorf("there is no owner %q", lq.owner)
		}
		f.OwnerID = id
	}

	var err error
	if f.Since, err = day(lq.since); err != nil {
		return lq, errors.New("the From date must look like 2026-12-31")
	}
	if f.Until, err = day(lq.until); err != nil {
		return lq, errors.New("the To date must look like 2026-12-31")
	}
	if !f.Until.IsZero() {
		f.Until = f.Until.AddDate(0, 0, 1)
	}

	f.Search = strings.TrimSpace(q.Get("q"))
	if n := utf8.RuneCountInString(f.Search); n > 100 || badText(f.Search, false) {
		return lq, errors.New("the search must be plain text of at most 100 characters")
	} else if n > 0 && n < 3 {
		// Shorter searches match almost everything and cannot use the
		// trigram index.
		return lq, errors.New("the search needs at least 3 characters")
	}

	f.Sort = q.Get("sort")
	if f.Sort == "" {
		f.Sort = store.LeadSorts[0]
	}
	if !slices.Contains(store.LeadSorts, f.Sort) {
		return lq, fmt.Errorf("the list cannot be sorted by %q", f.Sort)
	}

	f.Limit = leadPageSizes[0]
	if per := q.Get("per"); per != "" {
		n, err := strconv.ParseInt(per, 10, 32)
		if err != nil || !slices.Contains(leadPageSizes, int32(n)) {
			return lq, fmt.Errorf("a page holds 25, 50 or 100 leads, not %q", per)
		}
		f.Limit = int32(n)
	}
	f.After = q.Get("after")
	return lq, nil
}

// values returns the query that reproduces lq, for links.
func (lq leadQuery) values() url.Values {
	v := url.Values{}
	set := func(k, val string) {
		if val != "" {
			v.Set(k, val)
		}
	}
	set("status", lq.filter.Status)
	set("owner", lq.owner)
	set("since", lq.since)
	set("until", lq.until)
	set("q", lq.filter.Search)
	if lq.filter.Sort != store.LeadSorts[0] {
		set("sort", lq.filter.Sort)
	}
	if lq.filter.Limit != leadPageSizes[0] {
		set("per", strconv.Itoa(int(lq.filter.Limit)))
	}
	return v
}

// leadIndex lists leads, filtered, searched, sorted and paged as the
// URL says, so a list can be shared and Back works. htmx gets the
// results fragment only.
func (h *Handlers) leadIndex(c echo.Context) error {
	viewer, _ := auth.CurrentUser(c)
	lq, owners, problem, err := h.leadQueryOf(c)
	if err != nil {
		return err
	}
	v := h.leadsView(c, lq, owners)
	v.CanWrite = auth.Role(viewer.Role).Can("leads:write")
	v.CSRF = csrfToken(c)
	v.Back = h.url("lead.index")
	if q := lq.values(); len(q) > 0 {
		v.Back += "?" + q.Encode()
	}
	status := http.StatusOK
	if problem != nil {
		v.Error = "The list cannot be shown: " + problem.Error() + "."
		status = http.StatusBadRequest
	} else if v.Rows, v.NextURL, err = h.leadRows(c, lq); err != nil {
		if !errors.Is(err, store.ErrBadCursor) {
			return err
		}
		v.Error = "The page marker is not valid; start again from the first page."
		status = http.StatusBadRequest
	}

	if isHTMX(c) {
		return render(c, status, views.LeadResults(v))
	}
	return render(c, status, views.LeadsPage(h.adminPage(c, "Leads", "lead.index"), v))
}

// leadQueryOf reads the list's query for the signed-in viewer, with
// the staff who may own leads (to check and show owners). problem is
// what is wrong with the query; err is a failure to answer at all.
func (h *Handlers) leadQueryOf(c echo.Context) (lq leadQuery, owners []store.User, problem, err error) {
	ctx := c.Request().Context()
	viewer, _ := auth.CurrentUser(c)
	owners, err = h.Store.UserListActive(ctx, 500)
	if err != nil {
		return lq, nil, nil, err
	}
	known := func(id int64) bool {
		_, err := h.Store.UserGetByID(ctx, id)
		return err == nil
	}
	lq, problem = parseLeadQuery(c.QueryParams(), viewer, known)
	return lq, owners, problem, nil
}

func (h *Handlers) leadRows(c echo.Context, lq leadQuery) ([]views.LeadRow, string, error) {
	leads, err := h.Store.LeadList(c.Request().Context(), lq.filter)
	if err != nil {
		return nil, "", err
	}
	names, err := h.ownerNamesOf(c, leads)
	if err != nil {
		return nil, "", err
	}
	rows := make([]views.LeadRow, len(leads))
	for i, l := range leads {
		rows[i] = h.leadRow(l, names)
	}

	next := ""
	if len(leads) == int(lq.filter.Limit) {
		q := lq.values()
		q.Set("after", store.LeadCursor(leads[len(leads)-1], lq.filter.Sort))
		next = h.url("lead.index") + "?" + q.Encode()
	}
	return rows, next, nil
}

func (h *Handlers) leadRow(l store.Lead, names map[int64]string) views.LeadRow {
	r := views.LeadRow{
		ID:        l.ID,
		Name:      l.Name,
		Email:     l.Email,
		Company:   l.Company,
		Status:    l.Status,
		CreatedAt: l.CreatedAt,
		URL:       h.url("lead.show", l.ID),
		Duplicate: l.DuplicateOf != nil,
	}
	if l.OwnerID != nil {
		r.Owner = names[*l.OwnerID]
	}
	return r
}

func (h *Handlers) leadsView(c echo.Context, lq leadQuery, owners []store.User) views.LeadsView {
	q := lq.values()
	exportURL := h.url("lead.export")
	if len(q) > 0 {
		exportURL += "?" + q.Encode()
	}
	return views.LeadsView{
		Action:    h.url("lead.index"),
		BulkURL:   h.url("lead.bulk"),
		NewURL:    h.url("lead.new"),
		ExportURL: exportURL,
		Status:    lq.filter.Status,
		Owner:     lq.owner,
		Since:     lq.since,
		Until:     lq.until,
		Search:    lq.filter.Search,
		Sort:      lq.filter.Sort,
		Statuses:  store.LeadStatuses,
		Sorts:     store.LeadSorts,
		Owners:    ownerOptions(owners),
	}
}

// ownerNamesOf names the owners of leads, whoever they are: active or
// not, many or few.
func (h *Handlers) ownerNamesOf(c echo.Context, leads []store.Lead) (map[int64]string, error) {
	var ids []int64
	for _, l := range leads {
		if l.OwnerID != nil {
			ids = append(ids, *l.OwnerID)
		}
	}
	if len(ids) == 0 {
		return map[int64]string{}, nil
	}
	slices.Sort(ids)
	users, err := h.Store.UserListByIDs(c.Request().Context(), slices.Compact(ids))
	if err != nil {
		return nil, err
	}
	return ownerNames(users), nil
}

func ownerNames(users []store.User) map[int64]string {
	m := make(map[int64]string, len(users))
	for _, u := range users {
		m[u.ID] = u.Name
	}
	return m
}

func ownerOptions(users []store.User) []views.Option {
	var out []views.Option
	for _, u := range users {
		if auth.Role(u.Role).Can("leads:read") {
			out = append(out, views.Option{Value: itoa(u.ID), Label: u.Name})
		}
	}
	return out
}

func (h *Handlers) leadShow(c echo.Context) error {
	return h.renderLead(c, http.StatusOK, "")
}

func (h *Handlers) renderLead(c echo.Context, status int, noteErr string) error {
	ctx := c.Request().Context()
	l, err := h.leadParam(c)
	if err != nil {
		return err
	}
	notes, err := h.Store.LeadNotes(ctx, l.ID)
	if err != nil {
		return err
	}
	events, err := h.Store.LeadTimeline(ctx, l.ID)
	if err != nil {
		return err
	}
	owners, err := h.Store.UserListActive(ctx, 500)
	if err != nil {
		return err
	}
	names, err := h.ownerNamesOf(c, []store.Lead{l})
	if err != nil {
		return err
	}
	for k, v := range ownerNames(owners) {
		names[k] = v
	}

	v := views.LeadView{
		Lead:       h.leadRow(l, names),
		Phone:      l.Phone,
		Message:    l.Message,
		Source:     l.Source,
		OwnerID:    "",
		Statuses:   store.LeadStatuses,
		Owners:     ownerOptions(owners),
		StatusURL:  h.url("lead.status", l.ID),
		OwnerURL:   h.url("lead.owner", l.ID),
		NoteURL:    h.url("lead.note", l.ID),
		NoteError:  noteErr,
		Notes:      noteRows(notes),
		Timeline:   timelineRows(events, names),
		MergedInto: l.MergedInto,
	}
	if l.OwnerID != nil {
		v.OwnerID = itoa(*l.OwnerID)
	}
	if l.DuplicateOf != nil {
		if d, err := h.Store.LeadGetByID(ctx, *l.DuplicateOf); err == nil {
			v.DuplicateOf = &views.LeadRow{ID: d.ID, Name: d.Name, Email: d.Email, URL: h.url("lead.show", d.ID)}
			v.MergeURL = h.url("lead.merge", d.ID)
		}
	}
	if l.MergedInto != nil {
		v.MergedURL = h.url("lead.show", *l.MergedInto)
	}
	return render(c, status, views.LeadPage(h.adminPage(c, l.Name, "lead.index"), v))
}

func (h *Handlers) leadStatusUpdate(c echo.Context) error {
	l, err := h.leadParam(c)
	if err != nil {
		return err
	}
	status := postValue(c, "status")
	if !slices.Contains(store.LeadStatuses, status) {
		return &Error{Status: http.StatusUnprocessableEntity, Code: "bad_status", Message: "Please choose one of the statuses."}
	}
	_, err = h.Store.LeadSetStatus(c.Request().Context(), actor(c), l.ID, status)
	if err != nil && !errors.Is(err, store.ErrNoChange) {
		return leadChangeError(err)
	}
	return h.backToLead(c, l.ID)
}

func (h *Handlers) leadOwnerUpdate(c echo.Context) error {
	l, err := h.leadParam(c)
	if err != nil {
		return err
	}
	owner, err := h.ownerValue(c, postValue(c, "owner"))
	if err != nil {
		return err
	}
	_, err = h.Store.LeadAssign(c.Request().Context(), actor(c), l.ID, owner)
	if err != nil && !errors.Is(err, store.ErrNoChange) {
		return leadChangeError(err)
	}
	return h.backToLead(c, l.ID)
}

func (h *Handlers) leadNoteCreate(c echo.Context) error {
	l, err := h.leadParam(c)
	if err != nil {
		return err
	}
	body := strings.TrimSpace(postValue(c, "body"))
	switch n := utf8.RuneCountInString(body); {
	case n == 0:
		return h.renderLead(c, http.StatusUnprocessableEntity, "Please write the note first.")
	case n > 5000 || badText(body, true):
		return h.renderLead(c, http.StatusUnprocessableEntity, "A note is plain text of at most 5,000 characters.")
	}
	if _, err := h.Store.LeadNoteAdd(c.Request().Context(), actor(c), l.ID, body); err != nil {
		return leadChangeError(err)
	}
	return h.backToLead(c, l.ID)
}

// leadMerge merges the lead in the form ("merged") into the lead in the
// URL, which survives.
func (h *Handlers) leadMerge(c echo.Context) error {
	survivor, err := h.leadParam(c)
	if err != nil {
		return err
	}
	mergedID, err := strconv.ParseInt(postValue(c, "merged"), 10, 64)
	if err != nil {
		return &Error{Status: http.StatusUnprocessableEntity, Code: "bad_merge", Message: "Say which lead to merge."}
	}
	_, err = h.Store.LeadMerge(c.Request().Context(), actor(c), survivor.ID, mergedID)
	if errors.Is(err, store.ErrMergeRefused) || errors.Is(err, store.ErrNotFound) {
		return &Error{Status: http.StatusUnprocessableEntity, Code: "merge_refused",
			Message: "These two leads cannot be merged: one of them is already merged, or they are the same lead."}
	}
	if err != nil {
		return err
	}
	h.Sessions.Flash(c, fmt.Sprintf("Lead #%d is merged into this one.", mergedID))
	return c.Redirect(http.StatusSeeOther, h.url("lead.show", survivor.ID))
}

// leadBulkUpdate changes the status or the owner of the selected leads.
func (h *Handlers) leadBulkUpdate(c echo.Context) error {
	form := c.Request().PostForm
	ids := make([]int64, 0, len(form["id"]))
	for _, s := range form["id"] {
		id, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return &Error{Status: http.StatusBadRequest, Code: "bad_id", Message: "The selection is not valid."}
		}
		ids = append(ids, id)
	}
	if len(ids) == 0 || len(ids) > 100 {
		return &Error{Status: http.StatusUnprocessableEntity, Code: "bad_selection",
			Message: "Select between 1 and 100 leads."}
	}

	status := form.Get("status")
	if status != "" && !slices.Contains(store.LeadStatuses, status) {
		return &Error{Status: http.StatusUnprocessableEntity, Code: "bad_status", Message: "Please choose one of the statuses."}
	}
	ownerValue := form.Get("owner")
	owner, err := h.ownerValue(c, ownerValue)
	if err != nil {
		return err
	}
	if status == "" && ownerValue == "" {
		return &Error{Status: http.StatusUnprocessableEntity, Code: "nothing_to_do",
			Message: "Choose a status or an owner for the selected leads."}
	}

	n, err := h.Store.LeadBulkUpdate(c.Request().Context(), actor(c), ids, status, owner, ownerValue != "")
	if errors.Is(err, store.ErrNotFound) {
		return &Error{Status: http.StatusUnprocessableEntity, Code: "bad_selection",
			Message: "One of the selected leads no longer exists; nothing was changed."}
	}
	if err != nil {
		return leadChangeError(err)
	}
	h.Sessions.Flash(c, fmt.Sprintf("%d lead(s) updated.", n))
	back := localPath(form.Get("back"))
	if !strings.HasPrefix(back, h.url("lead.index")) {
		back = h.url("lead.index")
	}
	return c.Redirect(http.StatusSeeOther, back)
}

// ownerValue reads an owner from a form: "none" for nobody, or the id
// of an active user who may read leads.
func (h *Handlers) ownerValue(c echo.Context, v string) (*int64, error) {
	if v == "" || v == "none" {
		return nil, nil
	}
	id, err := strconv.ParseInt(v, 10, 64)
	if err == nil {
		u, uerr := h.Store.UserGetByID(c.Request().Context(), id)
		if uerr == nil && u.Active() && auth.Role(u.Role).Can("leads:read") {
			return &id, nil
		}
	}
	return nil, &Error{Status: http.StatusUnprocessableEntity, Code: "bad_owner",
		Message: "Leads can be given only to active staff who can see leads."}
}

// leadChangeError turns a refused change into a message: a merged lead
// takes no more changes.
func leadChangeError(err error) error {
	if errors.Is(err, store.ErrLeadMerged) {
		return &Error{Status: http.StatusUnprocessableEntity, Code: "lead_merged",
			Message: "This lead was merged into another; make the change there.", Err: err}
	}
	return err
}

func (h *Handlers) backToLead(c echo.Context, id int64) error {
	return c.Redirect(http.StatusSeeOther, h.url("lead.show", id))
}

func (h *Handlers) leadParam(c echo.Context) (store.Lead, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return store.Lead{}, &Error{Status: http.StatusNotFound, Code: "not_found", Message: "There is no such lead."}
	}
	return h.Store.LeadGetByID(c.Request().Context(), id)
}

func noteRows(notes []store.Note) []views.NoteRow {
	out := make([]views.NoteRow, len(notes))
	for i, n := range notes {
		out[i] = views.NoteRow{Author: n.AuthorName, Body: n.Body, At: n.CreatedAt}
	}
	return out
}

// timelineRows describes each event in a sentence.
func timelineRows(events []store.LeadEvent, names map[int64]string) []views.EventRow {
	out := make([]views.EventRow, len(events))
	for i, e := range events {
		who := e.ActorName
		if who == "" {
			who = "Keel"
		}
		out[i] = views.EventRow{Who: who, What: describeEvent(e, names), At: e.At}
	}
	return out
}

func describeEvent(e store.LeadEvent, names map[int64]string) string {
	str := func(k string) string { s, _ := e.Detail[k].(string); return s }
	owner := func(k string) string {
		f, ok := e.Detail[k].(float64)
		if !ok {
			return "nobody"
		}
		if n, ok := names[int64(f)]; ok {
			return n
		}
		return "user #" + strconv.FormatInt(int64(f), 10)
	}
	switch e.Kind {
	case "created":
		s := "created the lead (" + strings.ReplaceAll(str("source"), "_", " ") + ")"
		if d, ok := e.Detail["duplicate_of"].(float64); ok {
			s += fmt.Sprintf("; it may duplicate lead #%d", int64(d))
		}
		return s
	case "status":
		return "changed the status from " + str("from") + " to " + str("to")
	case "owner":
		return "assigned it to " + owner("to") + " (was " + owner("from") + ")"
	case "note":
		return "added a note"
	case "merge":
		if d, ok := e.Detail["merged"].(float64); ok {
			return fmt.Sprintf("merged lead #%d (%s) into this one", int64(d), str("merged_email"))
		}
	}
	return e.Kind
}

func (h *Handlers) leadNew(c echo.Context) error {
	return h.renderLeadNew(c, http.StatusOK, store.ContactRequest{}, nil)
}

func (h *Handlers) renderLeadNew(c echo.Context, status int, req store.ContactRequest, errs map[string]string) error {
	f := views.ContactForm{
		Action:  h.url("lead.create"),
		CSRF:    csrfToken(c),
		Name:    req.Name,
		Email:   req.Email,
		Phone:   req.Phone,
		Company: req.Company,
		Message: req.Message,
		Errors:  errs,
	}
	return render(c, status, views.LeadNewPage(h.adminPage(c, "New lead", "lead.index"), f))
}

// leadCreate records a lead a staff member took by phone or in person,
// with the same checks as the contact form, owned by its author.
func (h *Handlers) leadCreate(c echo.Context) error {
	req := contactRequestFrom(c)
	if errs := validateContact(req); len(errs) > 0 {
		return h.renderLeadNew(c, http.StatusUnprocessableEntity, req, errs)
	}
	viewer, _ := auth.CurrentUser(c)
	l, err := h.Store.LeadCreate(c.Request().Context(), actor(c), req, &viewer.ID)
	if err != nil {
		return err
	}
	return h.backToLead(c, l.ID)
}
