package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"keel/views"
)

var services = []views.Service{
	{
		Name:    "Web applications",
		Summary: "Customer portals, booking and ordering, built to stay fast as you grow.",
	},
	{
		Name:    "Back-office tools",
		Summary: "The admin screens your team lives in: quick, clear and safe to use.",
	},
	{
		Name:    "Care and hosting",
		Summary: "Monitoring, updates and backups, with a person who answers the phone.",
	},
}

func (h *Handlers) homeShow(c echo.Context) error {
	p := h.page(c, "Home", "Keel builds and runs web applications for small businesses.", "home")
	v := views.HomeView{Services: services, ContactURL: h.url("contact.new")}
	return render(c, http.StatusOK, views.HomePage(p, v))
}
