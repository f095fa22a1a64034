package client

import (
	"compress/gzip"
	"context"
	"encoding/pem"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/satellite/internal/fakebackend"
)

func newRegistered(t *testing.T) (*fakebackend.Backend, *Client, string) {
	t.Helper()
	fb := fakebackend.New()
	t.Cleanup(fb.Close)
	reg := fb.RegisterDirect("test")
	c, err := New(Options{BaseURL: fb.URL(), APIKey: reg.APIKey})
	require.NoError(t, err)
	return fb, c, reg.SatelliteID
}

func TestRegisterAndErrorCodes(t *testing.T) {
	t.Parallel()
	fb := fakebackend.New()
	t.Cleanup(fb.Close)
	fb.AddToken("good")
	fb.AddFailingToken("old", api.ErrTokenExpired)
	c, err := New(Options{BaseURL: fb.URL() + "/"})
	require.NoError(t, err)
	ctx := context.Background()

	resp, err := c.Register(ctx, "good", api.RegisterRequest{Name: "gs-1"})
	require.NoError(t, err)
	assert.NotEmpty(t, resp.SatelliteID)
	assert.Equal(t, 30, resp.Intervals.HeartbeatSeconds)

	tests := []struct{ token, code string }{
		{"good", api.ErrTokenAlreadyUsed}, {"old", api.ErrTokenExpired}, {"nope", api.ErrInvalidRegistrationToken},
	}
	for _, tc := range tests {
		_, err := c.Register(ctx, tc.token, api.RegisterRequest{Name: "gs-1"})
		var apiErr *APIError
		require.ErrorAs(t, err, &apiErr, tc.token)
		assert.Equal(t, tc.code, apiErr.Code)
		assert.False(t, Retryable(err))
	}
	_, err = c.Register(ctx, "", api.RegisterRequest{})
	assert.ErrorContains(t, err, api.ErrRegistrationTokenRequired)
}

func TestPollSendsLastPollWaitAndUserAgent(t *testing.T) {
	t.Parallel()
	fb, c, id := newRegistered(t)
	last := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	cid := fb.Queue(id, api.CommandPing, api.PriorityHigh, nil)

	resp, h, err := c.Poll(context.Background(), id, 5*time.Second, last)
	require.NoError(t, err)
	require.Len(t, resp.Commands, 1)
	assert.Equal(t, cid, resp.Commands[0].ID)
	assert.Equal(t, "10", h.Get(api.HeaderPollInterval))
	assert.Equal(t, []string{last.Format(time.RFC3339Nano)}, fb.LastPollHeaders(id))
	assert.True(t, strings.HasPrefix(fb.LastHeader().Get("User-Agent"), "talos-satellite/"))
}

func TestLongPollReturnsWhenCommandArrives(t *testing.T) {
	t.Parallel()
	fb, c, id := newRegistered(t)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for fb.Requests("poll") == 0 {
			runtimeGosched()
		}
		fb.Queue(id, api.CommandPing, api.PriorityImmediate, nil)
	}()
	resp, _, err := c.Poll(context.Background(), id, 30*time.Second, time.Time{})
	wg.Wait()
	require.NoError(t, err)
	require.Len(t, resp.Commands, 1)
	assert.Equal(t, api.PollingImmediate, resp.PollingMode)
}

func TestUnauthorizedIsFatal(t *testing.T) {
	t.Parallel()
	fb, c, id := newRegistered(t)
	fb.RevokeKeys()
	_, _, err := c.Poll(context.Background(), id, 0, time.Time{})
	require.ErrorIs(t, err, ErrUnauthorized)
	assert.False(t, Retryable(err))
	assert.False(t, NoAnswer(err))
}

func TestRetryable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"canceled", context.Canceled, false},
		{"transport", &TransportError{Err: errors.New("reset")}, true},
		{"deadline", context.DeadlineExceeded, true},
		{"protocol", &ProtocolError{Status: 200, Err: errors.New("html")}, true},
		{"503", &APIError{Status: 503}, true},
		{"429", &APIError{Status: 429}, true},
		{"408", &APIError{Status: 408}, true},
		{"400", &APIError{Status: 400, Code: api.ErrInvalidRequest}, false},
		{"401", &APIError{Status: 401}, false},
		{"409", &APIError{Status: 409}, false},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, Retryable(tc.err), tc.name)
	}
}

func TestNoAnswerRecognisesProxyCuts(t *testing.T) {
	t.Parallel()
	assert.True(t, NoAnswer(&TransportError{Err: errors.New("EOF"), Connected: true}))
	assert.False(t, NoAnswer(&TransportError{Err: errors.New("connection refused")}), "never connected: not a cut")
	assert.True(t, NoAnswer(&APIError{Status: 504}))
	assert.True(t, NoAnswer(&APIError{Status: 502}))
	assert.False(t, NoAnswer(&APIError{Status: 503, Code: "unavailable"}))
	assert.False(t, NoAnswer(&APIError{Status: 504, Code: "gateway"}))
}

func TestMalformedAnswerAndGzip(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/satellites/s/heartbeat" {
			assert.Contains(t, r.Header.Get("Accept-Encoding"), "gzip")
			w.Header().Set("Content-Encoding", "gzip")
			gz := gzip.NewWriter(w)
			_, _ = gz.Write([]byte(`{"next_heartbeat_seconds": 17}`))
			_ = gz.Close()
			return
		}
		_, _ = w.Write([]byte("<html>proxy login</html>"))
	}))
	t.Cleanup(srv.Close)
	c, err := New(Options{BaseURL: srv.URL, APIKey: "k"})
	require.NoError(t, err)
	hb, err := c.Heartbeat(context.Background(), "s", api.Heartbeat{})
	require.NoError(t, err)
	assert.Equal(t, 17, hb.NextHeartbeatSeconds)

	_, _, err = c.Poll(context.Background(), "s", 0, time.Time{})
	var pe *ProtocolError
	require.ErrorAs(t, err, &pe)
	assert.True(t, Retryable(err))
}

func TestTimeoutOnEveryCall(t *testing.T) {
	t.Parallel()
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(block); srv.Close() })
	c, err := New(Options{BaseURL: srv.URL, APIKey: "k", Timeout: 50 * time.Millisecond})
	require.NoError(t, err)
	_, err = c.SendEvents(context.Background(), "s", api.EventBatch{})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.True(t, Retryable(err))
	assert.True(t, NoAnswer(err))
}

func TestTLSWithCABundle(t *testing.T) {
	t.Parallel()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"next_heartbeat_seconds": 5}`))
	}))
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	cert := srv.Certificate()
	require.NoError(t, os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o600))

	// System roots do not trust the test server.
	plain, err := New(Options{BaseURL: srv.URL, APIKey: "k"})
	require.NoError(t, err)
	_, err = plain.Heartbeat(context.Background(), "s", api.Heartbeat{})
	require.Error(t, err)

	trusted, err := New(Options{BaseURL: srv.URL, APIKey: "k", TLS: TLSOptions{CAFile: caFile}})
	require.NoError(t, err)
	_, err = trusted.Heartbeat(context.Background(), "s", api.Heartbeat{})
	require.NoError(t, err)
}

func TestBadOptions(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.pem")
	require.NoError(t, os.WriteFile(junk, []byte("not pem"), 0o600))
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"scheme", Options{BaseURL: "ftp://x"}, "scheme"},
		{"creds", Options{BaseURL: "https://u:p@x"}, "credentials"},
		{"no host", Options{BaseURL: "https://"}, "host"},
		{"missing ca", Options{BaseURL: "https://x", TLS: TLSOptions{CAFile: filepath.Join(dir, "none")}}, "read CA bundle"},
		{"junk ca", Options{BaseURL: "https://x", TLS: TLSOptions{CAFile: junk}}, "no PEM certificate"},
		{"half cert", Options{BaseURL: "https://x", TLS: TLSOptions{CertFile: junk}}, "together"},
		{"bad cert", Options{BaseURL: "https://x", TLS: TLSOptions{CertFile: junk, KeyFile: junk}}, "client certificate"},
	}
	for _, tc := range tests {
		_, err := New(tc.opts)
		assert.ErrorContains(t, err, tc.want, tc.name)
	}
}

func TestObserverSeesCalls(t *testing.T) {
	t.Parallel()
	fb := fakebackend.New()
	t.Cleanup(fb.Close)
	reg := fb.RegisterDirect("x")
	obs := &recorder{}
	c, err := New(Options{BaseURL: fb.URL(), APIKey: reg.APIKey, Observer: obs})
	require.NoError(t, err)
	_, err = c.Heartbeat(context.Background(), reg.SatelliteID, api.Heartbeat{})
	require.NoError(t, err)
	fb.SetDown(true)
	_, err = c.Heartbeat(context.Background(), reg.SatelliteID, api.Heartbeat{})
	require.Error(t, err)
	assert.Equal(t, []int{200, 503}, obs.statuses)
}

type recorder struct {
	mu       sync.Mutex
	statuses []int
}

func (r *recorder) ObserveCall(_ string, status int, _ time.Duration, _ error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.statuses = append(r.statuses, status)
}

func FuzzAPIErrorBody(f *testing.F) {
	f.Add(503, []byte(`{"error":{"code":"unavailable","message":"down"}}`), "")
	f.Add(401, []byte(`<html>`), "120")
	f.Add(429, []byte(`{"error":null}`), "-1")
	f.Fuzz(func(t *testing.T, status int, body []byte, retryAfter string) {
		h := http.Header{}
		h.Set("Retry-After", retryAfter)
		e := newAPIError(status, h, body)
		assert.GreaterOrEqual(t, e.RetryAfter, time.Duration(0))
		_ = e.Error()
		_ = Retryable(e)
		_ = NoAnswer(e)
	})
}

func TestRetryAfterIsBounded(t *testing.T) {
	t.Parallel()
	h := http.Header{}
	h.Set("Retry-After", "99999999999999")
	assert.Equal(t, 24*time.Hour, newAPIError(429, h, nil).RetryAfter)
}

func TestKeepAliveReusesOneConnection(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	conns := 0
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"next_heartbeat_seconds": 30}`))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			mu.Lock()
			conns++
			mu.Unlock()
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	c, err := New(Options{BaseURL: srv.URL, APIKey: "k"})
	require.NoError(t, err)
	for range 5 {
		_, err := c.Heartbeat(context.Background(), "s", api.Heartbeat{})
		require.NoError(t, err)
	}
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, 1, conns)
}
