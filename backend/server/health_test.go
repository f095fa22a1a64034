package server_test

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/talos-gs/talos/backend/server"
	"github.com/talos-gs/talos/backend/server/servertest"
	"github.com/talos-gs/talos/backend/store"
	"github.com/talos-gs/talos/backend/store/storetest"
)

type healthBody struct {
	Status   string
	Database string
	Version  string
	Error    *struct{ Code, Message string }
}

func health(t *testing.T, h *servertest.Harness) (int, healthBody) {
	t.Helper()
	r := h.Anonymous(t).Do(t, http.MethodGet, "/api/health", nil)
	var b healthBody
	r.JSON(t, &b)
	return r.Status, b
}

func TestHealthSQLiteGoesAway(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t, store.SQLite)
	h := servertest.New(t, st)
	status, body := health(t, h)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, healthBody{Status: "ok", Database: "ok", Version: "dev"}, body)

	require.NoError(t, st.Close())
	status, body = health(t, h)
	assert.Equal(t, http.StatusServiceUnavailable, status)
	assert.Equal(t, "unavailable", body.Status)
	assert.Equal(t, "down", body.Database)
	require.NotNil(t, body.Error)
	assert.Equal(t, "database unreachable", body.Error.Message)
}

// observed returns a server option logging into an observer, for tests that check what is
// logged rather than answered.
func observed() (func(*server.Options), *observer.ObservedLogs) {
	core, logs := observer.New(zap.WarnLevel)
	return func(o *server.Options) { o.Logger = zap.New(core) }, logs
}

// TestHealthPostgresGoesAway puts a TCP proxy between the store and PostgreSQL and cuts it: the
// server must answer 503 while the database is unreachable and 200 again once it is back.
func TestHealthPostgresGoesAway(t *testing.T) {
	t.Parallel()
	u, err := url.Parse(storetest.NewURL(t, store.Postgres))
	require.NoError(t, err)
	p := startProxy(t, u.Host)
	u.Host = p.addr
	st := storetest.OpenURL(t, u.String())
	withLogs, logs := observed()
	h := servertest.New(t, st, withLogs)

	status, _ := health(t, h)
	require.Equal(t, http.StatusOK, status)

	p.stop()
	status, body := health(t, h)
	assert.Equal(t, http.StatusServiceUnavailable, status)
	assert.Equal(t, "down", body.Database)
	// Anonymous callers learn nothing of the database's address, user or name; the log does.
	require.NotNil(t, body.Error)
	assert.Equal(t, "database unreachable", body.Error.Message)
	host, _, err := net.SplitHostPort(p.addr)
	require.NoError(t, err)
	for _, secret := range []string{p.addr, host, u.User.Username(), u.Path} {
		assert.NotContains(t, body.Error.Message, secret)
	}
	down := logs.FilterMessage("health check: database down").All()
	require.NotEmpty(t, down, "the cause is logged")
	assert.Contains(t, down[0].ContextMap()["error"], "ping database", "the log keeps the driver's detail")

	p.start(t)
	status, _ = health(t, h)
	assert.Equal(t, http.StatusOK, status, "health recovers when the database is back")
}

// proxy forwards TCP connections to target until stopped; it can start again on the same port.
type proxy struct {
	target, addr string
	mu           sync.Mutex
	ln           net.Listener
	conns        []net.Conn
}

func startProxy(t *testing.T, target string) *proxy {
	p := &proxy{target: target, addr: "127.0.0.1:0"}
	p.start(t)
	t.Cleanup(p.stop)
	return p
}

func (p *proxy) start(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", p.addr)
	require.NoError(t, err)
	p.mu.Lock()
	p.ln, p.addr = ln, ln.Addr().String()
	p.mu.Unlock()
	go p.accept(ln)
}

func (p *proxy) accept(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, up)
		p.mu.Unlock()
		go pipe(c, up)
		go pipe(up, c)
	}
}

func pipe(dst, src net.Conn) {
	_, _ = io.Copy(dst, src)
	_ = dst.Close()
}

// stop closes the listener and every forwarded connection: the database is gone.
func (p *proxy) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		_ = p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
}
