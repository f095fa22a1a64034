package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/backend/auth"
	"github.com/talos-gs/talos/backend/notify"
	"github.com/talos-gs/talos/backend/store"
	"github.com/talos-gs/talos/backend/store/storetest"
)

// hungUp is a gin context whose client has already hung up, as right after a command's commit.
func hungUp() *gin.Context {
	c, _ := gin.CreateTestContext(httptest.NewRecorder())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c.Request = httptest.NewRequest(http.MethodPost, "/", nil).WithContext(ctx)
	return c
}

func newNotifyServer(t *testing.T, n notify.Notifier) *Server {
	t.Helper()
	s, err := New(Options{Store: storetest.Open(t, store.SQLite), Logger: zaptest.NewLogger(t),
		SecretKey: bytes.Repeat([]byte("k"), 32), Hasher: auth.Hasher{Params: auth.TestParams},
		Satellites: SatelliteOptions{Notifier: n}})
	require.NoError(t, err)
	return s
}

// TestWakeOutlivesTheRequest: the client hanging up right after the commit must not cancel the
// NOTIFY, or a long-poll held by another replica waits up to 30 s for the command.
func TestWakeOutlivesTheRequest(t *testing.T) {
	t.Parallel()
	u := storetest.NewURL(t, store.Postgres) // skips, or fails under TALOS_REQUIRE_INTEGRATION=1
	pg := storetest.OpenURL(t, u)
	b := make([]byte, 6)
	_, err := rand.Read(b)
	require.NoError(t, err)
	channel := "talos_test_" + hex.EncodeToString(b)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	mk := func() *notify.Postgres {
		n := notify.NewPostgres(u, pg.SQL(), zaptest.NewLogger(t))
		n.Channel = channel
		go func() { _ = n.Run(ctx) }()
		return n
	}
	sender, other := mk(), mk()
	for deadline := time.Now().Add(15 * time.Second); !sender.Listening() || !other.Listening(); {
		require.True(t, time.Now().Before(deadline), "listeners did not start")
		time.Sleep(5 * time.Millisecond)
	}
	woken, unsub := other.Subscribe("sat-1")
	defer unsub()
	drain(woken) // the listener's start-up wake-up

	s := newNotifyServer(t, sender)
	s.wake(hungUp(), "sat-1")
	select {
	case <-woken:
	case <-time.After(15 * time.Second):
		t.Fatal("the other replica's long-poll was not woken")
	}
	assert.Zero(t, counterValue(t, s.sat.metrics.wakeFailures))
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	require.NoError(t, c.Write(&m))
	return m.GetCounter().GetValue()
}

func drain(ch <-chan struct{}) {
	for {
		select {
		case <-ch:
		case <-time.After(50 * time.Millisecond):
			return
		}
	}
}

// failingNotifier refuses every notification.
type failingNotifier struct{ *notify.Local }

func (failingNotifier) Notify(context.Context, string) error { return errors.New("connection refused") }

func TestWakeFailureIsCounted(t *testing.T) {
	t.Parallel()
	s := newNotifyServer(t, failingNotifier{notify.NewLocal()})
	s.wake(hungUp(), "sat-1")
	s.wake(hungUp(), "sat-1")
	assert.Equal(t, 2.0, counterValue(t, s.sat.metrics.wakeFailures))
}

// FuzzCheckPayload: whatever the payload of a built-in command, checking it answers a 400
// naming a field under "payload" (or "type") or a payload that decodes strictly into its type,
// validates, and carries the satellite's team wherever a process is named.
func FuzzCheckPayload(f *testing.F) {
	seeds := []struct{ typ, raw string }{
		{api.CommandProcessStart, `{"name":"d","program":"true"}`},
		{api.CommandProcessStart, `{"name":"d","team_id":"other","program":"true"}`},
		{api.CommandProcessStart, `{"name":"d","team_id":"team-1","team_id":"other","program":"x"}`},
		{api.CommandProcessRestart, `{"name":"d"}`},
		{api.CommandConfigUpdate, `{"heartbeat_seconds":30}`},
		{api.CommandConfigUpdate, `{}`},
		{api.CommandMaintenanceEnter, `null`},
		{api.CommandMaintenanceExit, `{"reason":"<b>"}`},
		{api.CommandObservationSchedule, `{"observation_id":"o","process":{"name":"d","program":"x"}}`},
		{"rotator.park", `[1,2]`},
	}
	for _, s := range seeds {
		f.Add(s.typ, []byte(s.raw), true)
		f.Add(s.typ, []byte(s.raw), false)
	}
	f.Fuzz(func(t *testing.T, typ string, raw []byte, inTeam bool) {
		var team *string
		if inTeam {
			id := "team-1"
			team = &id
		}
		out, err := checkPayload(typ, raw, team)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Status != http.StatusBadRequest || e.Field == "" {
				t.Fatalf("%s %q: not a 400 naming a field: %v", typ, raw, err)
			}
			return
		}
		spec, typed := payloadSpecs[typ]
		if !typed || out == nil {
			return
		}
		p := spec.new()
		dec := json.NewDecoder(bytes.NewReader(out))
		dec.DisallowUnknownFields()
		if err := dec.Decode(p); err != nil {
			t.Fatalf("%s: stored payload %s does not decode: %v", typ, out, err)
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("%s: stored payload %s does not validate: %v", typ, out, err)
		}
		var proc *api.ProcessStartPayload
		switch v := p.(type) {
		case *api.ProcessStartPayload:
			proc = v
		case *api.ObservationSchedulePayload:
			proc = v.Process
		}
		if proc != nil && (team == nil || proc.TeamID != *team) {
			t.Fatalf("%s: a process for team %q was accepted on a satellite of team %v", typ, proc.TeamID, team)
		}
	})
}
