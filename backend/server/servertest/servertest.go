// Package servertest runs the real talos-backend HTTP API in a test, over a real connection
// (httptest), on a store from storetest. It makes users, teams, logged-in browser clients (cookie
// + CSRF) and personal-token clients, so API tests of every part of the backend read alike.
package servertest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/talos-gs/talos/backend/accounts"
	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/backend/auth"
	"github.com/talos-gs/talos/backend/server"
	"github.com/talos-gs/talos/backend/store"
)

// Hasher is the cheap argon2id the harness uses; never use it outside tests.
var Hasher = auth.Hasher{Params: auth.TestParams}

// Password is the password of every user the harness creates.
const Password = "correct horse battery staple"

// Harness is a running API server.
type Harness struct {
	Store  *store.Store
	Server *server.Server
	// URL is the base URL, e.g. http://127.0.0.1:41234.
	URL string
}

// New starts the API on st. Options may adjust the server's options before it is built.
func New(t testing.TB, st *store.Store, options ...func(*server.Options)) *Harness {
	t.Helper()
	o := server.Options{
		Store:     st,
		Logger:    zaptest.NewLogger(t),
		SecretKey: []byte("servertest-secret-key-0123456789abcdef"),
		Hasher:    Hasher,
	}
	for _, opt := range options {
		opt(&o)
	}
	srv, err := server.New(o)
	if err != nil {
		t.Fatalf("servertest: new server: %v", err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return &Harness{Store: st, Server: srv, URL: ts.URL}
}

// User is a user made by the harness, with its plain password.
type User struct {
	*store.User
	Password string
}

// CreateUser stores a user with Password; admin makes it a global administrator.
func (h *Harness) CreateUser(t testing.TB, email string, admin bool) *User {
	t.Helper()
	u, err := accounts.CreateUser(context.Background(), h.Store, Hasher,
		accounts.NewUser{Email: email, Password: Password, Admin: admin})
	if err != nil {
		t.Fatalf("servertest: create user %s: %v", email, err)
	}
	return &User{User: u, Password: Password}
}

// CreateTeam stores a team owned by owner (nil: no owner).
func (h *Harness) CreateTeam(t testing.TB, name string, owner *User) *store.Team {
	t.Helper()
	ownerID := ""
	if owner != nil {
		ownerID = owner.ID
	}
	team, err := h.Store.CreateTeam(context.Background(), name, ownerID)
	if err != nil {
		t.Fatalf("servertest: create team %s: %v", name, err)
	}
	return team
}

// AddMember gives u role in team.
func (h *Harness) AddMember(t testing.TB, team *store.Team, u *User, role store.Role) {
	t.Helper()
	if _, err := h.Store.AddMember(context.Background(), team.ID, u.ID, role); err != nil {
		t.Fatalf("servertest: add member: %v", err)
	}
}

// Client is an HTTP client of the harness: anonymous, a logged-in browser, or a token holder.
type Client struct {
	h    *Harness
	http *http.Client
	// CSRF is sent as X-CSRF-Token on unsafe requests when set.
	CSRF string
	// Bearer is sent as "Authorization: Bearer" when set.
	Bearer string
}

// Anonymous returns a client with no credentials (but a cookie jar).
func (h *Harness) Anonymous(t testing.TB) *Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatalf("servertest: cookie jar: %v", err)
	}
	return &Client{h: h, http: &http.Client{Jar: jar, Timeout: time.Minute}}
}

// Login logs u in through POST /api/auth/login and returns the browser-like client, holding
// the session cookie and the CSRF token.
func (h *Harness) Login(t testing.TB, u *User) *Client {
	t.Helper()
	c := h.Anonymous(t)
	r := c.Do(t, http.MethodPost, "/api/auth/login", map[string]string{"email": u.Email, "password": u.Password})
	if r.Status != http.StatusOK {
		t.Fatalf("servertest: login %s: %d %s", u.Email, r.Status, r.Body)
	}
	var body struct {
		CSRFToken string `json:"csrf_token"`
	}
	r.JSON(t, &body)
	c.CSRF = body.CSRFToken
	return c
}

// TokenClient mints a personal API token with the admin scope (everything u may do) for u and
// returns a client using it.
func (h *Harness) TokenClient(t testing.TB, u *User) *Client {
	t.Helper()
	return h.ScopedTokenClient(t, u, accounts.ScopeAdmin)
}

// ScopedTokenClient mints a personal API token with scopes for u and returns a client using it.
func (h *Harness) ScopedTokenClient(t testing.TB, u *User, scopes ...accounts.Scope) *Client {
	t.Helper()
	key, _, err := accounts.IssueToken(context.Background(), h.Store, h.Server.KeyHasher(),
		accounts.NewToken{UserID: u.ID, Name: "servertest", Scopes: scopes})
	if err != nil {
		t.Fatalf("servertest: issue token: %v", err)
	}
	c := h.Anonymous(t)
	c.Bearer = key.String()
	return c
}

// WithoutCSRF returns a copy of c that sends no CSRF token.
func (c *Client) WithoutCSRF() *Client {
	cp := *c
	cp.CSRF = ""
	return &cp
}

// Response is a finished response with its body read.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Do sends a request. body may be nil, a string or []byte (sent as is), any value (sent as
// JSON), or an io.Reader other than those (sent chunked, without Content-Length). Extra
// headers come in pairs: name, value.
func (c *Client) Do(t testing.TB, method, path string, body any, headers ...string) *Response {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, c.h.URL+path, encodeBody(t, body))
	if err != nil {
		t.Fatalf("servertest: request: %v", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.CSRF != "" {
		req.Header.Set(server.HeaderCSRF, c.CSRF)
	}
	if c.Bearer != "" {
		req.Header.Set("Authorization", "Bearer "+c.Bearer)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := c.http.Do(req)
	if err != nil {
		t.Fatalf("servertest: %s %s: %v", method, path, err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("servertest: read body: %v", err)
	}
	if err := resp.Body.Close(); err != nil {
		t.Fatalf("servertest: close body: %v", err)
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// Open sends a GET and returns the response with its body unread, for streams (the live feed's
// Server-Sent Events); the body is closed when the test ends.
func (c *Client) Open(t testing.TB, path string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, c.h.URL+path, nil)
	if err != nil {
		t.Fatalf("servertest: request: %v", err)
	}
	if c.Bearer != "" {
		req.Header.Set("Authorization", "Bearer "+c.Bearer)
	}
	stream := *c.http
	stream.Timeout = 0 // a stream lasts as long as the test wants it
	resp, err := stream.Do(req)
	if err != nil {
		t.Fatalf("servertest: GET %s: %v", path, err)
	}
	t.Cleanup(func() { _ = resp.Body.Close() })
	return resp
}

func encodeBody(t testing.TB, body any) io.Reader {
	t.Helper()
	switch b := body.(type) {
	case nil:
		return nil
	case string:
		return bytes.NewBufferString(b)
	case []byte:
		return bytes.NewReader(b)
	case io.Reader:
		return b // of unknown length: sent chunked
	}
	raw, err := json.Marshal(body)
	if err != nil {
		t.Fatalf("servertest: encode body: %v", err)
	}
	return bytes.NewReader(raw)
}

// JSON decodes the body into v, failing the test when it is not valid JSON.
func (r *Response) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("servertest: decode %q: %v", r.Body, err)
	}
}

// Error decodes the body as the error envelope, failing the test when it is not one.
func (r *Response) Error(t testing.TB) api.ErrorDetail {
	t.Helper()
	var body api.ErrorBody
	r.JSON(t, &body)
	if body.Error.Code == "" {
		t.Fatalf("servertest: not an error envelope: %s", r.Body)
	}
	return body.Error
}
