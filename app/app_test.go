package app_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"

	"keel/app"
	"keel/testenv"
)

// SIGTERM lets a request in flight finish, then stops accepting.
func TestServeShutsDownGracefully(t *testing.T) {
	t.Parallel()
	a := testenv.NewApp(t, app.Options{})

	started := make(chan struct{})
	a.Echo.GET("/slow", func(c echo.Context) error {
		close(started)
		time.Sleep(300 * time.Millisecond)
		return c.String(http.StatusOK, "finished")
	})

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- a.Serve(ctx, ln) }()

	type result struct {
		body string
		err  error
	}
	got := make(chan result, 1)
	go func() {
		resp, err := http.Get("http://" + addr + "/slow")
		if err != nil {
			got <- result{err: err}
			return
		}
		defer func() { _ = resp.Body.Close() }()
		b, err := io.ReadAll(resp.Body)
		got <- result{string(b), err}
	}()

	<-started
	cancel()

	r := <-got
	require.NoError(t, r.err)
	require.Equal(t, "finished", r.body)
	require.NoError(t, <-served)

	_, err = net.DialTimeout("tcp", addr, time.Second)
	require.Error(t, err, "the listener is closed after shutdown")
}

// The contact flow end to end on a running server with its workers: the
// acknowledgement reaches the SMTP catcher and is marked sent.
func TestContactAcknowledgementIsEmailed(t *testing.T) {
	t.Parallel()
	a := testenv.NewApp(t, app.Options{Workers: true})
	base := testenv.Serve(t, a)
	email := testenv.Unique("ack") + "@example.com"
	t.Cleanup(func() {
		_, _ = testenv.Pool(t).Exec(context.Background(), "DELETE FROM leads WHERE email = $1", email)
	})

	form := url.Values{
		"name":    {"Ada Tester"},
		"email":   {email},
		"message": {"Please send us a quote for a catalogue site."},
	}
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	form.Set("_csrf", testenv.FormToken(t, client, base+"/contact"))
	resp, err := client.PostForm(base+"/contact", form)
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)

	msgs := testenv.MailTo(t, email, 15*time.Second)
	require.Len(t, msgs, 1)
	require.Equal(t, "We received your message", msgs[0].Subject)
	require.True(t, strings.HasPrefix(msgs[0].Text, "Hello Ada Tester,"))

	require.Eventually(t, func() bool {
		var status string
		err := testenv.Pool(t).QueryRow(context.Background(),
			"SELECT status FROM emails WHERE recipient = $1", email).Scan(&status)
		return err == nil && status == "sent"
	}, 10*time.Second, 100*time.Millisecond)
}
