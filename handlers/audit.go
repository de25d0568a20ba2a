package handlers

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"keel/store"
	"keel/views"
)

const auditPageSize = 50

// auditIndex lists the audit log, filtered by actor, action and dates,
// newest first, a page at a time. The filter lives in the URL.
func (h *Handlers) auditIndex(c echo.Context) error {
	ctx := c.Request().Context()
	actions, err := h.Store.AuditActions(ctx)
	if err != nil {
		return err
	}
	q := c.QueryParams()
	v := views.AuditView{
		Action:    h.url("audit.index"),
		Actor:     q.Get("actor"),
		ActionSel: q.Get("action"),
		Since:     q.Get("since"),
		Until:     q.Get("until"),
		Actions:   actions,
	}

	f, problem := auditFilter(q, actions)
	if problem != "" {
		v.FilterErr = problem
		return render(c, http.StatusBadRequest, views.AuditPage(h.adminPage(c, "Audit log", "audit.index"), v))
	}

	entries, err := h.Store.AuditList(ctx, f)
	if err != nil {
		return err
	}
	for _, e := range entries {
		v.Rows = append(v.Rows, auditRow(e))
	}
	if len(entries) == auditPageSize {
		last := entries[len(entries)-1]
		q.Set("before", strconv.FormatInt(last.At.UnixMicro(), 10)+"-"+strconv.FormatInt(last.ID, 10))
		v.OlderURL = v.Action + "?" + q.Encode()
	}
	return render(c, http.StatusOK, views.AuditPage(h.adminPage(c, "Audit log", "audit.index"), v))
}

// auditFilter parses the query into a filter, or says what is wrong.
func auditFilter(q url.Values, actions []string) (store.AuditFilter, string) {
	f := store.AuditFilter{ActorEmail: strings.TrimSpace(q.Get("actor")), Limit: auditPageSize}
	if len(f.ActorEmail) > 254 {
		return f, "The actor email is too long."
	}
	if a := q.Get("action"); a != "" {
		if !slices.Contains(actions, a) {
			return f, fmt.Sprintf("There is no action %q in the log.", a)
		}
		f.Action = a
	}

	var err error
	if f.Since, err = day(q.Get("since")); err != nil {
		return f, "The From date must look like 2026-12-31."
	}
	if f.Until, err = day(q.Get("until")); err != nil {
		return f, "The To date must look like 2026-12-31."
	}
	if !f.Until.IsZero() {
		f.Until = f.Until.AddDate(0, 0, 1) // the whole of the To day
	}

	if b := q.Get("before"); b != "" {
		micros, id, ok := strings.Cut(b, "-")
		us, err1 := strconv.ParseInt(micros, 10, 64)
		n, err2 := strconv.ParseInt(id, 10, 64)
		if !ok || err1 != nil || err2 != nil {
			return f, "The page marker is not valid; start again from the first page."
		}
		f.BeforeAt, f.BeforeID = time.UnixMicro(us), n
	}
	return f, ""
}

func day(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return time.Parse(time.DateOnly, s)
}

func auditRow(e store.AuditEntry) views.AuditRow {
	r := views.AuditRow{At: e.At, Actor: e.ActorEmail, Action: e.Action, ClientIP: e.ClientIP}
	if r.Actor == "" {
		r.Actor = "(system)"
	}
	if e.TargetType != "" {
		r.Target = e.TargetType + " " + e.TargetID
	}
	if len(e.Detail) > 0 {
		b, _ := json.Marshal(e.Detail)
		r.Detail = string(b)
	}
	return r
}
