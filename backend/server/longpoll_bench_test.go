package server_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/backend/notify"
	"github.com/talos-gs/talos/backend/server"
	"github.com/talos-gs/talos/backend/server/servertest"
	"github.com/talos-gs/talos/backend/store"
	"github.com/talos-gs/talos/backend/store/storetest"
)

// BenchmarkLongPollWakeup measures how long a held long-poll takes to answer, counted from the
// moment a user's POST .../commands is sent: the delivery latency a station sees (it includes
// creating the command). Reported as µs/wakeup (the
// mean over b.N commands), per dialect.
func BenchmarkLongPollWakeup(b *testing.B) {
	for _, d := range storetest.Dialects(b) {
		b.Run(string(d), func(b *testing.B) {
			n := notify.NewLocal()
			st := storetest.Open(b, d)
			p := newProtocol(b, st, func(o *server.Options) { o.Satellites.Notifier = n })
			s := p.newStation(b, "bench")
			var total time.Duration
			for b.Loop() {
				done := make(chan time.Time, 1)
				go func() {
					r := s.c.Do(b, http.MethodGet, s.path("/commands?wait=30"), nil)
					if r.Status != http.StatusOK {
						b.Errorf("poll: %d %s", r.Status, r.Body)
					}
					done <- time.Now()
				}()
				for n.Subscribers() == 0 {
					time.Sleep(100 * time.Microsecond)
				}
				time.Sleep(2 * time.Millisecond) // let the poll's first look pass
				sent := time.Now()
				r := p.owner.Do(b, http.MethodPost, "/api/satellites/"+s.SatelliteID+"/commands",
					map[string]any{"type": api.CommandPing})
				if r.Status != http.StatusCreated {
					b.Fatalf("queue: %d %s", r.Status, r.Body)
				}
				total += (<-done).Sub(sent)
			}
			b.ReportMetric(float64(total.Microseconds())/float64(b.N), "µs/wakeup")
		})
	}
}

// BenchmarkCrossReplicaWakeup is BenchmarkLongPollWakeup across two backends on one PostgreSQL
// database: the poll is held by replica A, the command queued on replica B, and the wake-up
// travels through LISTEN/NOTIFY.
func BenchmarkCrossReplicaWakeup(b *testing.B) {
	u := storetest.NewURL(b, store.Postgres)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	notifier := func(st *store.Store) *notify.Postgres {
		n := notify.NewPostgres(u, st.SQL(), zap.NewNop())
		go func() { _ = n.Run(ctx) }()
		for !n.Listening() {
			time.Sleep(time.Millisecond)
		}
		return n
	}
	stA, stB := openStore(b, u, nil), openStore(b, u, nil)
	nA, nB := notifier(stA), notifier(stB)
	a := newProtocol(b, stA, func(o *server.Options) { o.Satellites.Notifier = nA })
	hB := servertest.New(b, stB, func(o *server.Options) { o.Satellites.Notifier = nB })
	s := a.newStation(b, "bench")
	ownerOnB := hB.Login(b, a.ownerUser)
	var total time.Duration
	for b.Loop() {
		done := make(chan time.Time, 1)
		go func() {
			r := s.c.Do(b, http.MethodGet, s.path("/commands?wait=30"), nil)
			if r.Status != http.StatusOK {
				b.Errorf("poll: %d %s", r.Status, r.Body)
			}
			done <- time.Now()
		}()
		for nA.Subscribers() == 0 {
			time.Sleep(100 * time.Microsecond)
		}
		time.Sleep(5 * time.Millisecond) // let the poll's first look pass
		sent := time.Now()
		r := ownerOnB.Do(b, http.MethodPost, "/api/satellites/"+s.SatelliteID+"/commands", map[string]any{"type": api.CommandPing})
		if r.Status != http.StatusCreated {
			b.Fatalf("queue: %d %s", r.Status, r.Body)
		}
		total += (<-done).Sub(sent)
	}
	b.ReportMetric(float64(total.Microseconds())/float64(b.N), "µs/wakeup")
}

// BenchmarkIdlePoll measures a short poll that finds nothing (the common case), end to end
// over HTTP, with the satellite key already in the verified-key cache.
func BenchmarkIdlePoll(b *testing.B) {
	for _, d := range storetest.Dialects(b) {
		b.Run(string(d), func(b *testing.B) {
			p := newProtocol(b, storetest.Open(b, d))
			s := p.newStation(b, "bench")
			s.poll(b, "")
			for b.Loop() {
				if r := s.c.Do(b, http.MethodGet, s.path("/commands"), nil); r.Status != http.StatusOK {
					b.Fatalf("poll: %d %s", r.Status, r.Body)
				}
			}
		})
	}
}
