package testenv

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"
)

// Mail is a message the SMTP catcher received.
type Mail struct {
	ID      string
	Subject string
	To      []string
	Text    string
}

// MailTo waits up to wait for messages addressed to addr to reach the
// SMTP catcher and returns them all (possibly none).
func MailTo(t testing.TB, addr string, wait time.Duration) []Mail {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		msgs := searchMail(t, addr)
		if len(msgs) > 0 || time.Now().After(deadline) {
			return msgs
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func searchMail(t testing.TB, addr string) []Mail {
	t.Helper()
	var res struct {
		Messages []struct {
			ID      string
			Subject string
			To      []struct{ Address string }
		}
	}
	q := url.Values{"query": {fmt.Sprintf("to:%q", addr)}}
	getJSON(t, "/api/v1/search?"+q.Encode(), &res)

	out := make([]Mail, 0, len(res.Messages))
	for _, m := range res.Messages {
		var body struct{ Text string }
		getJSON(t, "/api/v1/message/"+m.ID, &body)

		mail := Mail{ID: m.ID, Subject: m.Subject, Text: body.Text}
		for _, to := range m.To {
			mail.To = append(mail.To, to.Address)
		}
		out = append(out, mail)
	}
	return out
}

func getJSON(t testing.TB, path string, v any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, Getenv("KEEL_MAILPIT_URL")+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("SMTP catcher API: %v; %s", err, hint)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("SMTP catcher API %s: status %d", path, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("SMTP catcher API %s: %v", path, err)
	}
}
