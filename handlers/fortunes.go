package handlers

import (
	"net/http"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"keel/views"
)

// fortunes serves the TechEmpower "Fortunes" page through Keel's whole
// stack: the rows from PostgreSQL through sqlc, one more added at
// request time, sorted by message, rendered and escaped by templ. It is
// a yardstick for the benchmarks (make bench), not part of the site.
func (h *Handlers) fortunes(c echo.Context) error {
	rows, err := h.Store.Fortunes(c.Request().Context())
	if err != nil {
		return err
	}
	list := make([]views.Fortune, 0, len(rows)+1)
	for _, f := range rows {
		list = append(list, views.Fortune{ID: f.ID, Message: f.Message})
	}
	list = append(list, views.Fortune{Message: "Additional fortune added at request time."})
	slices.SortFunc(list, func(a, b views.Fortune) int { return strings.Compare(a.Message, b.Message) })
	return render(c, http.StatusOK, views.FortunesPage(list))
}
