package handlers

import (
	"net/http"

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
	return render(c, http.StatusOK, views.FortunesPage(views.WithRequestFortune(list)))
}
