// Package fakebackend is an in-memory talos-backend for tests of talos-satellite. It implements
// the satellite protocol as written in backend/api and ARCHITECTURE.md (registration tokens,
// bearer keys, priority-ordered commands with leases and long-poll, idempotent status updates
// with 409 on illegal transitions, heartbeats, event batches deduplicated by id), and lets a
// test inject faults: the backend down, a proxy cutting long requests, a revoked key.
package fakebackend

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/talos-gs/talos/backend/api"
)

// Backend is the fake. Build it with New; its URL is Server.URL.
type Backend struct {
	Server *httptest.Server

	mu         sync.Mutex
	now        func() time.Time
	intervals  api.Intervals
	tokens     map[string]string // registration token → "ok" or an api error code to answer with
	sats       map[string]*satellite
	keys       map[string]string // api key → satellite id
	down       bool
	cutAfter   time.Duration // > 0: long-polls are cut after this long, as by a proxy
	lease      time.Duration
	wake       chan struct{}
	requests   map[string]int
	lastHeader http.Header
	// team is the team every registration joins: unique per fake, so that parallel tests
	// running processes as root each get (and remove) a system user of their own.
	team string
	// releases are the artifacts served to runner.update; refuseVersion fails polls of that version.
	releases      map[string][]byte
	refuseVersion string
}

type satellite struct {
	id          string
	reg         api.RegisterRequest
	commands    []*command
	heartbeats  []api.Heartbeat
	events      map[string]api.Event
	eventOrder  []string
	duplicates  int
	lastPollHdr []string
	maintenance bool
}

type command struct {
	api.Command
	status  api.CommandStatus
	updates []api.CommandStatusUpdate
	leaseAt time.Time
}

// New starts a fake backend. Close it with b.Server.Close (t.Cleanup does it in NewT).
func New() *Backend {
	b := &Backend{
		now:       time.Now,
		intervals: api.Intervals{PollSeconds: api.PollingNormal.Seconds(), HeartbeatSeconds: 30, EventsSeconds: 3, LongPollSeconds: api.MaxLongPollSeconds},
		tokens:    map[string]string{},
		sats:      map[string]*satellite{},
		keys:      map[string]string{},
		lease:     time.Minute,
		wake:      make(chan struct{}),
		requests:  map[string]int{},
		team:      "team-" + rand.Text()[:10],
	}
	b.Server = httptest.NewServer(b.routes())
	return b
}

// URL is the backend's base URL.
func (b *Backend) URL() string { return b.Server.URL }

// Close stops the server.
func (b *Backend) Close() { b.Server.Close() }

// SetClock replaces the backend's clock (server_time, leases).
func (b *Backend) SetClock(now func() time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.now = now
}

// SetIntervals changes the intervals handed out at registration.
func (b *Backend) SetIntervals(iv api.Intervals) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.intervals = iv
}

// SetLease changes how long a delivered command stays leased before redelivery.
func (b *Backend) SetLease(d time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.lease = d
}

// AddToken makes a registration token valid once.
func (b *Backend) AddToken(token string) { b.setToken(token, "ok") }

// AddFailingToken makes token answer with the given api.Err* code.
func (b *Backend) AddFailingToken(token, code string) { b.setToken(token, code) }

func (b *Backend) setToken(token, state string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.tokens[token] = state
}

// SetDown makes every call answer 503 (true) or work again (false).
func (b *Backend) SetDown(down bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.down = down
}

// CutLongPollsAfter simulates a proxy that kills requests lasting longer than d (0: off).
func (b *Backend) CutLongPollsAfter(d time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.cutAfter = d
}

// RevokeKeys makes every API key invalid (401).
func (b *Backend) RevokeKeys() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.keys = map[string]string{}
}

// Requests returns how many requests an operation ("register", "poll", "status", "heartbeat",
// "events") has served, counting failures.
func (b *Backend) Requests(op string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.requests[op]
}

// LastHeader returns the headers of the latest request.
func (b *Backend) LastHeader() http.Header {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.lastHeader.Clone()
}

func newKey() string {
	var raw [32]byte
	_, _ = rand.Read(raw[:])
	return "tsk_" + hex.EncodeToString(raw[:])
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, api.ErrorBody{Error: api.ErrorDetail{Code: code, Message: msg}})
}

// pollInterval paces the next poll as the real backend does (api.PollingFor): by the most
// urgent of the commands in this answer (delivered) and those still pending, or maintenance.
// Commands leased by an earlier answer do not count: the satellite already has them.
func (b *Backend) pollInterval(s *satellite, delivered []api.Command) (api.PollingMode, int) {
	rank := -1
	consider := func(p api.Priority) {
		if r := p.Rank(); r >= 0 && (rank < 0 || r < rank) {
			rank = r
		}
	}
	for _, c := range delivered {
		consider(c.Priority)
	}
	for _, c := range s.commands {
		if c.status == api.CommandPending {
			consider(c.Priority)
		}
	}
	mode := api.PollingFor(s.maintenance, rank)
	return mode, mode.Seconds()
}

func sortCommands(cmds []*command) {
	sort.SliceStable(cmds, func(i, j int) bool {
		ri, rj := cmds[i].Priority.Rank(), cmds[j].Priority.Rank()
		if ri != rj {
			return ri < rj
		}
		return cmds[i].CreatedAt.Before(cmds[j].CreatedAt)
	})
}

func itoa(n int) string { return strconv.Itoa(n) }
