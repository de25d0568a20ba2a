package handlers

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
)

// healthz says the process is alive. It checks nothing else, so an
// orchestrator never restarts Keel for a database outage.
func (h *Handlers) healthz(c echo.Context) error {
	return c.String(http.StatusOK, "ok\n")
}

// readyz says whether this copy can serve: every dependency in Ready
// answered within two seconds. A load balancer stops sending traffic
// while it fails, and resumes when it passes again.
func (h *Handlers) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()

	results := make(map[string]string, len(h.Ready))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, chk := range h.Ready {
		wg.Go(func() {
			state := "ok"
			if err := chk.Ping(ctx); err != nil {
				state = "unreachable"
			}
			mu.Lock()
			results[chk.Name] = state
			mu.Unlock()
		})
	}
	wg.Wait()

	status := http.StatusOK
	for _, s := range results {
		if s != "ok" {
			status = http.StatusServiceUnavailable
		}
	}
	return c.JSON(status, results)
}
