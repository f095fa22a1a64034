package server_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/backend/notify"
	"github.com/talos-gs/talos/backend/server"
	"github.com/talos-gs/talos/backend/server/servertest"
	"github.com/talos-gs/talos/backend/store"
	"github.com/talos-gs/talos/backend/store/storetest"
)

// TestHeldPollSurvivesKilledConnections: PostgreSQL ends every connection of the backend (as a
// failover or an administrator's pg_terminate_backend does) while a long-poll is held. The
// listener reconnects and wakes the poll, which answers 200, never 500 (issue 11, item 9). The
// wait is short so the test holds whether the re-read fails (an empty answer at once) or is
// retried on a fresh connection (an empty answer when the wait ends).
func TestHeldPollSurvivesKilledConnections(t *testing.T) {
	t.Parallel()
	u, err := url.Parse(storetest.NewURL(t, store.Postgres))
	require.NoError(t, err)
	app := "talos_drop_" + uuid.NewString()[:8]
	q := u.Query()
	q.Set("application_name", app)
	u.RawQuery = q.Encode()
	st := openStore(t, u.String(), nil)
	killer := storetest.Open(t, store.Postgres) // another connection, not to be killed
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	n := notify.NewPostgres(u.String(), st.SQL(), zaptest.NewLogger(t))
	go func() { _ = n.Run(ctx) }()
	waitFor(t, n.Listening)

	steps := newPollSteps()
	p := newProtocol(t, st, steps.option, func(o *server.Options) { o.Satellites.Notifier = n })
	s := p.newStation(t, "roof")
	done := make(chan *servertest.Response, 1)
	go func() { done <- s.c.Do(t, http.MethodGet, s.path("/commands?wait=10"), nil) }()
	steps.await(t, server.LongPollWaiting)
	_, err = killer.SQL().ExecContext(t.Context(),
		"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1", app)
	require.NoError(t, err)
	select {
	case r := <-done:
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		var out api.CommandsResponse
		r.JSON(t, &out)
		assert.Empty(t, out.Commands)
	case <-time.After(25 * time.Second):
		t.Fatal("the held long-poll did not answer after its connections were killed")
	}
}
