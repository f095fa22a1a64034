package client

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/backend/api"
)

// redirector answers every request with status, pointing at target.
func redirector(t *testing.T, tls bool, status int, target string) *httptest.Server {
	t.Helper()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target+r.URL.Path, status)
	})
	srv := httptest.NewUnstartedServer(h)
	if tls {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return srv
}

func TestRedirectsAreRefusedAndCredentialsStayHome(t *testing.T) {
	t.Parallel()
	var reached atomic.Int32
	var leaked atomic.Value
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		leaked.Store(r.Header.Get("Authorization"))
		_, _ = w.Write([]byte(`{}`))
	}))
	t.Cleanup(elsewhere.Close)

	for _, status := range []int{301, 302, 303, 307, 308} {
		for _, useTLS := range []bool{false, true} {
			src := redirector(t, useTLS, status, elsewhere.URL) // another port; http when src is https
			opts := Options{BaseURL: src.URL, APIKey: "tsk_secret"}
			if useTLS {
				opts.Transport = src.Client().Transport
			}
			c, err := New(opts)
			require.NoError(t, err)
			_, err = c.Heartbeat(context.Background(), "s", api.Heartbeat{})
			var re *RedirectError
			require.ErrorAs(t, err, &re, "status %d tls %v", status, useTLS)
			assert.Equal(t, status, re.Status)
			assert.Contains(t, err.Error(), elsewhere.URL, "the error names the target")
			assert.Contains(t, err.Error(), "does not follow redirects")
			assert.False(t, NoAnswer(err))
			assert.False(t, Unreachable(err))

			_, err = c.Register(context.Background(), "registration-token", api.RegisterRequest{Name: "gs"})
			require.ErrorAs(t, err, &re, "registration: status %d tls %v", status, useTLS)
		}
	}
	assert.Zero(t, reached.Load(), "the redirect target never saw a request (leaked %v)", leaked.Load())
}

func TestUnreachableIsNotACut(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close()) // nobody listens there now: connection refused
	c, err := New(Options{BaseURL: "http://" + addr, APIKey: "k"})
	require.NoError(t, err)
	_, _, err = c.Poll(context.Background(), "s", 5*time.Second, time.Time{})
	require.Error(t, err)
	assert.True(t, Unreachable(err), "%v", err)
	assert.False(t, NoAnswer(err), "a refused connection is not a proxy cutting a long-poll")
	assert.True(t, Retryable(err))
}

func TestRequestCutInFlightIsNoAnswer(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			_ = conn.Close() // as a proxy dropping a long request
		}
	}))
	t.Cleanup(srv.Close)
	c, err := New(Options{BaseURL: srv.URL, APIKey: "k"})
	require.NoError(t, err)
	_, _, err = c.Poll(context.Background(), "s", 5*time.Second, time.Time{})
	require.Error(t, err)
	assert.True(t, NoAnswer(err), "%v", err)
	assert.False(t, Unreachable(err))
}
