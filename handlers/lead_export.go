package handlers

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"keel/store"
)

// maxExportLeads bounds one export; a larger list must be narrowed.
const maxExportLeads = 100_000

// leadExport streams the filtered list (filters in the URL's query) as
// CSV, a page of rows at a time, so memory stays flat however large the
// list. It reads from the replica when one is configured. It is a POST
// with the CSRF token, so no other site can start one, and it is
// audited twice: with its filter before, and with what went out after.
func (h *Handlers) leadExport(c echo.Context) error {
	ctx := c.Request().Context()
	lq, owners, problem, err := h.leadQueryOf(c)
	if err != nil {
		return err
	}
	if problem != nil {
		return &Error{Status: http.StatusBadRequest, Code: "bad_filter", Message: "The export cannot run: " + problem.Error() + "."}
	}
	lq.filter.After = ""

	a := actor(c)
	if err := h.Store.Audit(ctx, store.AuditEntry{
		ActorID: a.ID, ActorEmail: a.Email, Action: "lead.exported", ClientIP: a.IP,
		Detail: map[string]any{"filter": lq.values().Encode()},
	}); err != nil {
		return err
	}

	res := c.Response()
	name := "leads-" + time.Now().UTC().Format("2006-01-02") + ".csv"
	res.Header().Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	res.Header().Set(echo.HeaderContentDisposition, `attachment; filename="`+name+`"`)
	res.WriteHeader(http.StatusOK)

	w := csv.NewWriter(res)
	names := ownerNames(owners)
	_ = w.Write([]string{"id", "created_at", "status", "name", "email", "phone", "company", "owner", "source", "message"})
	rows := 0
	more, err := h.readStore(ctx).LeadEach(ctx, lq.filter, maxExportLeads, func(l store.Lead) error {
		owner := ""
		if l.OwnerID != nil {
			owner = names[*l.OwnerID]
		}
		rows++
		if err := w.Write(csvRow(l, owner)); err != nil {
			return err
		}
		if rows%1000 == 0 {
			w.Flush()
			res.Flush()
		}
		return w.Error()
	})
	if more {
		_ = w.Write([]string{fmt.Sprintf("(export stopped at %d leads; narrow the filter for the rest)", maxExportLeads)})
	}
	w.Flush()

	detail := map[string]any{"rows": rows, "truncated": more}
	if err != nil {
		// The status line has gone out; the client sees a cut-off file,
		// the log and the audit entry say why.
		h.Logger.ErrorContext(ctx, "lead export cut off", "rows", rows, "error", err)
		detail["failed"] = true
	}
	if aerr := h.Store.Audit(context.WithoutCancel(ctx), store.AuditEntry{
		ActorID: a.ID, ActorEmail: a.Email, Action: "lead.export_finished", ClientIP: a.IP, Detail: detail,
	}); aerr != nil {
		h.Logger.ErrorContext(ctx, "audit lead export", "error", aerr)
	}
	return nil
}

// readStore is where reports and exports read: the replica while it
// keeps up, else the primary.
func (h *Handlers) readStore(ctx context.Context) *store.Store {
	return h.Reads.Store(ctx)
}

func csvRow(l store.Lead, owner string) []string {
	row := []string{
		itoa(l.ID), l.CreatedAt.UTC().Format(time.RFC3339), l.Status, l.Name, l.Email,
		l.Phone, l.Company, owner, l.Source, l.Message,
	}
	for i, v := range row {
		row[i] = defuse(v)
	}
	return row
}

// defuse keeps a spreadsheet from running a cell as a formula: text
// typed by a visitor must never execute on a staff member's machine.
func defuse(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}
