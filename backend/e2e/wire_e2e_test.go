package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/talos-gs/talos/backend/api"
)

// wire is the runner's HTTP transport, recording what crosses it: every command poll (how long
// it asked to wait, when it started and ended, which backend answered, which commands it
// carried) and every command status report. Tests read from it which request delivered a
// command and when; it never changes a request or an answer.
type wire struct {
	inner http.RoundTripper
	// cutStatus, while set, fails every command status report before it leaves (as a network
	// that drops those requests would), so the backend never hears of them.
	cutStatus atomic.Bool
	// cutHeartbeats, while set, fails every heartbeat before it leaves: the station goes
	// silent as a crashed one or a lost network would, without its final heartbeat.
	cutHeartbeats atomic.Bool

	mu      sync.Mutex
	polls   []*pollCall
	cmds    map[string]*cmdSeen
	changed chan struct{} // closed and replaced on every change
}

// pollCall is one GET .../commands as the runner saw it.
type pollCall struct {
	Host       string
	Wait       time.Duration
	Start, End time.Time // End is zero while the request is in flight
	Status     int
	Commands   []string
	Err        error
}

// cmdSeen is what the runner did with one command, in its own clock.
type cmdSeen struct {
	Poll        *pollCall // the poll whose answer carried it (first delivery)
	DeliveredAt time.Time // when that answer arrived
	Deliveries  int       // how many poll answers carried it
	Reported    []api.CommandStatus
	SucceededAt time.Time // when the backend accepted "succeeded"
}

// errCut is the transport error of a request the test cut.
var errCut = errors.New("e2e: connection cut by the test")

func newWire() *wire {
	inner := http.DefaultTransport.(*http.Transport).Clone()
	return &wire{inner: inner, cmds: map[string]*cmdSeen{}, changed: make(chan struct{})}
}

// RoundTrip implements http.RoundTripper.
func (w *wire) RoundTrip(req *http.Request) (*http.Response, error) {
	switch {
	case req.Method == http.MethodGet && strings.HasSuffix(req.URL.Path, "/commands"):
		return w.poll(req)
	case req.Method == http.MethodPost && strings.HasSuffix(req.URL.Path, "/status"):
		return w.status(req)
	case req.Method == http.MethodPost && strings.HasSuffix(req.URL.Path, "/heartbeat") && w.cutHeartbeats.Load():
		return nil, errCut
	}
	return w.inner.RoundTrip(req)
}

func (w *wire) poll(req *http.Request) (*http.Response, error) {
	wait, _ := strconv.Atoi(req.URL.Query().Get("wait"))
	p := &pollCall{Host: req.URL.Host, Wait: time.Duration(wait) * time.Second, Start: time.Now()}
	w.update(func() { w.polls = append(w.polls, p) })
	resp, err := w.inner.RoundTrip(req)
	if err != nil {
		w.update(func() { p.End, p.Err = time.Now(), err })
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	end := time.Now()
	if err != nil {
		w.update(func() { p.End, p.Status, p.Err = end, resp.StatusCode, err })
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	var out api.CommandsResponse
	if resp.StatusCode == http.StatusOK {
		_ = json.Unmarshal(body, &out) // the runner reports a bad answer itself
	}
	w.update(func() {
		p.End, p.Status = end, resp.StatusCode
		for _, c := range out.Commands {
			p.Commands = append(p.Commands, c.ID)
			seen := w.seen(c.ID)
			seen.Deliveries++
			if seen.Poll == nil {
				seen.Poll, seen.DeliveredAt = p, end
			}
		}
	})
	return resp, nil
}

func (w *wire) status(req *http.Request) (*http.Response, error) {
	var upd api.CommandStatusUpdate
	if req.GetBody != nil {
		if rc, err := req.GetBody(); err == nil {
			_ = json.NewDecoder(rc).Decode(&upd)
			_ = rc.Close()
		}
	}
	parts := strings.Split(strings.TrimSuffix(req.URL.Path, "/status"), "/")
	id := parts[len(parts)-1]
	if w.cutStatus.Load() {
		if req.Body != nil {
			_ = req.Body.Close() // a RoundTripper closes the body, even on error
		}
		return nil, errCut
	}
	resp, err := w.inner.RoundTrip(req)
	if err == nil && resp.StatusCode == http.StatusOK {
		at := time.Now()
		w.update(func() {
			seen := w.seen(id)
			seen.Reported = append(seen.Reported, upd.Status)
			if upd.Status == api.CommandSucceeded && seen.SucceededAt.IsZero() {
				seen.SucceededAt = at
			}
		})
	}
	return resp, err
}

// seen returns the record of command id; w.mu must be held.
func (w *wire) seen(id string) *cmdSeen {
	s := w.cmds[id]
	if s == nil {
		s = &cmdSeen{}
		w.cmds[id] = s
	}
	return s
}

func (w *wire) update(fn func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	fn()
	close(w.changed)
	w.changed = make(chan struct{})
}

// command returns a copy of what the runner did with command id.
func (w *wire) command(id string) cmdSeen {
	w.mu.Lock()
	defer w.mu.Unlock()
	if s := w.cmds[id]; s != nil {
		cp := *s
		if s.Poll != nil {
			p := *s.Poll
			cp.Poll = &p
		}
		return cp
	}
	return cmdSeen{}
}

// heldMargin is the least time a long-poll used by a test must have left before its wait
// expires.
const heldMargin = 10 * time.Second

// heldLongPoll returns the oldest long-poll in flight (zero if none).
func (w *wire) heldLongPoll() pollCall {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, p := range w.polls {
		if p.Wait > 0 && p.End.IsZero() {
			return *p
		}
	}
	return pollCall{}
}

// waitUntil returns once cond holds (nil) or ctx ends (its error). cond is re-checked after
// every recorded change.
func (w *wire) waitUntil(ctx context.Context, cond func() bool) error {
	for {
		w.mu.Lock()
		ch := w.changed
		w.mu.Unlock()
		if cond() {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}

// waitHeld waits until a long-poll has been in flight for at least d, with at least
// heldMargin of its wait left (so it cannot time out just as the test uses it), and returns
// it. Time passing changes nothing on the wire, so it re-checks on a short tick.
func (w *wire) waitHeld(ctx context.Context, d time.Duration) (pollCall, error) {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		p := w.heldLongPoll()
		if held := time.Since(p.Start); !p.Start.IsZero() && held >= d && held <= p.Wait-heldMargin {
			return p, nil
		}
		select {
		case <-ctx.Done():
			return pollCall{}, ctx.Err()
		case <-t.C:
		}
	}
}
