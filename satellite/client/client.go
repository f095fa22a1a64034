// Package client speaks the satellite side of the Talos protocol (backend/api) over HTTPS: one
// method per call, a timeout on every call, keep-alive reuse, gzip responses, proxies from the
// environment, and errors that say whether a retry can help.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/satellite/internal/clock"
)

// maxResponseBytes bounds what the client reads from the backend, so a broken proxy cannot make
// the runner allocate without limit.
const maxResponseBytes = 8 << 20

// Observer is told about every call, for the status endpoint and metrics. status is 0 when no
// HTTP answer arrived.
type Observer interface {
	ObserveCall(op string, status int, elapsed time.Duration, err error)
}

// Client calls one backend. The zero value is not usable; build it with New.
type Client struct {
	base      *url.URL
	http      *http.Client
	apiKey    string
	userAgent string
	timeout   time.Duration
	observer  Observer
	clk       clock.Clock
	// opts are kept so ForUploads can build a client of the same backend on its own
	// connections.
	opts Options
}

// Options configure New.
type Options struct {
	// BaseURL is the backend's root URL, e.g. https://talos.example.org.
	BaseURL string
	// APIKey is the satellite's bearer key; empty for registration.
	APIKey string
	// Timeout bounds each call; a long-poll gets its wait on top. Default 30 s.
	Timeout time.Duration
	// TLS selects roots and the client certificate.
	TLS TLSOptions
	// Observer, if set, sees every call.
	Observer Observer
	// Transport replaces the default transport (tests).
	Transport http.RoundTripper
	// Clock measures calls (the runner's clock); nil means the system clock.
	Clock clock.Clock
}

// New builds a client for opts.BaseURL.
func New(opts Options) (*Client, error) {
	base, err := ParseBaseURL(opts.BaseURL)
	if err != nil {
		return nil, err
	}
	rt := opts.Transport
	if rt == nil {
		if rt, err = newTransport(opts.TLS); err != nil {
			return nil, err
		}
	}
	c := &Client{
		base: base, http: &http.Client{Transport: rt, CheckRedirect: refuseRedirect}, apiKey: opts.APIKey,
		userAgent: "talos-satellite/" + api.Version, timeout: opts.Timeout,
		observer: opts.Observer, clk: opts.Clock, opts: opts,
	}
	if c.timeout <= 0 {
		c.timeout = 30 * time.Second
	}
	if c.clk == nil {
		c.clk = clock.Real{}
	}
	return c, nil
}

// ParseBaseURL checks that raw is an absolute http(s) URL without query or fragment.
func ParseBaseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimRight(raw, "/"))
	if err != nil {
		return nil, fmt.Errorf("backend url %q: %w", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("backend url %q: scheme must be https (or http for localhost)", raw)
	}
	if u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("backend url %q: want scheme://host[:port][/path] without credentials, query or fragment", raw)
	}
	return u, nil
}

// IsLoopback reports whether u points at this machine (localhost, 127.0.0.1, ::1), where plain
// http cannot be intercepted on the network.
func IsLoopback(u *url.URL) bool {
	switch u.Hostname() {
	case "localhost", "127.0.0.1", "::1":
		return true
	}
	return false
}

// call is one request: method, path below the base URL, optional query, body and answer.
type call struct {
	op     string
	method string
	path   string
	query  url.Values
	header http.Header
	body   any
	// raw, when set, is sent as the body as it is (an upload chunk of rawLen bytes).
	raw    io.Reader
	rawLen int64
	out    any
	// sink receives a 2xx body as it streams (no size bound but the caller's); out is unused.
	sink    io.Writer
	bearer  string
	timeout time.Duration
}

func (c *Client) do(ctx context.Context, cl call) (http.Header, error) {
	timeout := cl.timeout
	if timeout <= 0 {
		timeout = c.timeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := c.clk.Now()
	header, status, err := c.roundTrip(ctx, cl)
	if c.observer != nil {
		c.observer.ObserveCall(cl.op, status, c.clk.Now().Sub(start), err)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cl.op, err)
	}
	return header, nil
}

func (c *Client) roundTrip(ctx context.Context, cl call) (http.Header, int, error) {
	req, err := c.newRequest(ctx, cl)
	if err != nil {
		return nil, 0, err
	}
	var connected atomic.Bool
	req = req.WithContext(httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GotConn: func(httptrace.GotConnInfo) { connected.Store(true) },
	}))
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, 0, &TransportError{Err: err, Connected: connected.Load() && !dialFailed(err)}
	}
	defer func() { _ = resp.Body.Close() }()
	if cl.sink != nil && resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		if _, err := io.Copy(cl.sink, resp.Body); err != nil {
			return nil, resp.StatusCode, &TransportError{Err: fmt.Errorf("read response: %w", err), Connected: true}
		}
		return resp.Header, resp.StatusCode, nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return nil, resp.StatusCode, &TransportError{Err: fmt.Errorf("read response: %w", err), Connected: true}
	}
	if isRedirect(resp.StatusCode) {
		return nil, resp.StatusCode, &RedirectError{Status: resp.StatusCode, From: req.URL.Redacted(),
			Location: resp.Header.Get("Location")}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, resp.StatusCode, newAPIError(resp.StatusCode, resp.Header, body)
	}
	if cl.out != nil {
		if err := json.Unmarshal(body, cl.out); err != nil {
			return nil, resp.StatusCode, &ProtocolError{Status: resp.StatusCode, Err: err}
		}
	}
	return resp.Header, resp.StatusCode, nil
}

func (c *Client) newRequest(ctx context.Context, cl call) (*http.Request, error) {
	u := *c.base
	u.Path = strings.TrimRight(u.Path, "/") + cl.path
	u.RawQuery = cl.query.Encode()
	var body io.Reader
	if cl.raw != nil {
		body = cl.raw
	}
	if cl.body != nil {
		raw, err := json.Marshal(cl.body)
		if err != nil {
			return nil, fmt.Errorf("encode request: %w", err)
		}
		body = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, cl.method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	for k, v := range cl.header {
		req.Header[k] = v
	}
	if cl.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if cl.raw != nil {
		req.ContentLength = cl.rawLen
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	bearer := cl.bearer
	if bearer == "" {
		bearer = c.apiKey
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	return req, nil
}

// errEmptyBearer guards calls that need a key.
var errEmptyBearer = errors.New("no API key: register first (talos-satellite register)")

// refuseRedirect keeps the HTTP client from following any redirect. Every call carries a
// credential (the API key, or the registration token), and Go forwards Authorization to
// another port of the same host, or from https to plain http; so the 3xx answer itself comes
// back and roundTrip turns it into a RedirectError naming the target.
func refuseRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// isRedirect matches the statuses net/http would follow.
func isRedirect(status int) bool {
	switch status {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}
