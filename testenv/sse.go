package testenv

import (
	"bufio"
	"io"
	"strings"
)

// SSEEvent is one Server-Sent Event as a browser sees it. A "retry:"
// line comes as an event named "retry" with the delay as its data.
type SSEEvent struct{ ID, Name, Data string }

// ReadEvents parses a Server-Sent Events stream into events until it
// ends; then the channel closes, and so does r if it is a Closer.
func ReadEvents(r io.Reader) <-chan SSEEvent {
	out := make(chan SSEEvent, 256)
	go func() {
		defer close(out)
		if c, ok := r.(io.Closer); ok {
			defer func() { _ = c.Close() }()
		}
		br := bufio.NewReader(r)
		var ev SSEEvent
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			line = strings.TrimRight(line, "\n")
			switch {
			case strings.HasPrefix(line, "id: "):
				ev.ID = strings.TrimPrefix(line, "id: ")
			case strings.HasPrefix(line, "event: "):
				ev.Name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				ev.Data += strings.TrimPrefix(line, "data: ") + "\n"
			case strings.HasPrefix(line, "retry: "):
				out <- SSEEvent{Name: "retry", Data: strings.TrimPrefix(line, "retry: ")}
			case line == "" && ev.Name != "":
				out <- ev
				ev = SSEEvent{}
			}
		}
	}()
	return out
}
