package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// Serve answers HTTP on ln, and works jobs when the app was built with
// workers, until ctx ends. Then it shuts down gracefully: it stops
// accepting connections, lets in-flight requests and running jobs
// finish within the shutdown timeout, and cancels the jobs still
// running after it (River retries them).
func (a *App) Serve(ctx context.Context, ln net.Listener) error {
	if err := a.startWorkers(); err != nil {
		return err
	}

	srv := newServer(a.Handler(), a.Logger)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	a.Logger.Info("serving", "addr", ln.Addr().String(), "workers", a.worker != nil)

	select {
	case err := <-served:
		return errors.Join(fmt.Errorf("http server: %w", err), a.stopWorkers())
	case <-ctx.Done():
	}

	a.Logger.Info("shutting down", "timeout", a.Config.ShutdownTimeout.String())
	close(a.stopping) // live streams end now; Shutdown waits for handlers
	fanoutDone := make(chan struct{})
	go func() { a.Fanout.Shutdown(); close(fanoutDone) }() // streams taken over from the server
	sctx, cancel := context.WithTimeout(context.Background(), a.Config.ShutdownTimeout)
	defer cancel()

	httpDone := make(chan error, 1)
	go func() { httpDone <- srv.Shutdown(sctx) }()
	workErr := a.stopWorkers()
	httpErr := <-httpDone
	<-fanoutDone
	if errors.Is(httpErr, context.DeadlineExceeded) {
		httpErr = fmt.Errorf("requests still running after %s were cut off", a.Config.ShutdownTimeout)
		_ = srv.Close()
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		httpErr = errors.Join(httpErr, err)
	}

	a.Logger.Info("stopped")
	return errors.Join(httpErr, workErr)
}

// Work runs River workers only, until ctx ends, then stops them like
// Serve does.
func (a *App) Work(ctx context.Context) error {
	if a.worker == nil {
		return errors.New("app built without workers")
	}
	if err := a.startWorkers(); err != nil {
		return err
	}
	a.Logger.Info("working jobs", "workers", a.Config.WorkerCount)
	<-ctx.Done()
	return a.stopWorkers()
}

func (a *App) startWorkers() error {
	if a.worker == nil {
		return nil
	}
	// River gets its own context: shutdown is driven by stopWorkers, so
	// the bound on it is ours.
	if err := a.worker.Start(context.Background()); err != nil {
		return fmt.Errorf("start workers: %w", err)
	}
	return nil
}

// stopWorkers asks running jobs to finish within the shutdown timeout,
// then cancels those still running; River puts them back for a retry.
func (a *App) stopWorkers() error {
	if a.worker == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), a.Config.ShutdownTimeout)
	defer cancel()
	err := a.worker.Stop(ctx)
	if err == nil {
		return nil
	}

	a.Logger.Warn("jobs still running at the shutdown timeout; cancelling them", "error", err)
	hctx, hcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer hcancel()
	if err := a.worker.StopAndCancel(hctx); err != nil {
		return fmt.Errorf("stop workers: %w", err)
	}
	return nil
}
