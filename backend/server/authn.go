package server

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"go.uber.org/zap"

	"github.com/talos-gs/talos/backend/accounts"
	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/backend/auth"
	"github.com/talos-gs/talos/backend/ratelimit"
	"github.com/talos-gs/talos/backend/store"
)

// Names of the session cookie and the CSRF header.
const (
	SessionCookie = "talos_session"
	HeaderCSRF    = "X-CSRF-Token"
)

// ActorKind says what kind of credential authenticated a request.
type ActorKind string

// Actor kinds. The satellite protocol adds its own.
const (
	ActorSession ActorKind = "user"  // a browser session (cookie + CSRF)
	ActorToken   ActorKind = "token" // a user's personal API token
)

// Principal is who a request acts as.
type Principal struct {
	Kind ActorKind
	// User is the acting user for session and personal-token principals; nil otherwise.
	User *store.User
	// SessionID or TokenID names the credential used.
	SessionID string
	TokenID   string
	// Scopes and TokenExpiresAt are the personal token's, for token principals.
	Scopes         accounts.Scopes
	TokenExpiresAt *time.Time
	// SubjectID names a non-user actor (e.g. a satellite); TeamID its team, when it has one.
	SubjectID string
	TeamID    string
}

// ActorID is the id recorded in logs and the audit log.
func (p *Principal) ActorID() string {
	if p.User != nil {
		return p.User.ID
	}
	return p.SubjectID
}

// credentialID is the session or token used, for the audit log.
func (p *Principal) credentialID() string {
	if p.TokenID != "" {
		return p.TokenID
	}
	return p.SessionID
}

const ctxPrincipal = "talos.principal"

func principalOf(c *gin.Context) *Principal {
	p, _ := c.Get(ctxPrincipal)
	pr, _ := p.(*Principal)
	return pr
}

// bearerAuth authenticates a parsed bearer key of one prefix. It returns errUnauthorized (or
// another *Error) for a bad key.
type bearerAuth func(c *gin.Context, key auth.Key) (*Principal, error)

// touchEvery throttles last-used bookkeeping writes to one per credential per interval.
const touchEvery = 5 * time.Minute

// authenticate resolves the request's principal from a bearer key or the session cookie. Cookie
// requests with an unsafe method must carry the session's CSRF token; bearer requests need none
// (a browser never attaches an Authorization header on its own).
func (s *Server) authenticate(c *gin.Context) {
	var (
		p   *Principal
		err error
	)
	if h := c.GetHeader("Authorization"); h != "" {
		p, err = s.bearer(c, h)
	} else {
		p, err = s.session(c, true)
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Set(ctxPrincipal, p)
	c.Next()
}

func (s *Server) bearer(c *gin.Context, header string) (*Principal, error) {
	scheme, value, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || value == "" {
		return nil, errUnauthorized
	}
	key, err := auth.ParseKey(strings.TrimSpace(value))
	if err != nil {
		return nil, errUnauthorized
	}
	verify, ok := s.bearers[key.Prefix]
	if !ok {
		return nil, errUnauthorized
	}
	return verify(c, key)
}

// personalToken authenticates a user's personal API token: one row read by its public id, then
// one keyed hash (decision 0092; a token still hashed with argon2id is checked under the guard
// and migrated).
func (s *Server) personalToken(c *gin.Context, key auth.Key) (*Principal, error) {
	ctx := c.Request.Context()
	t, err := s.store.APITokenByID(ctx, key.ID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errUnauthorized
	}
	if err != nil {
		return nil, err
	}
	now := s.store.Now()
	if !t.Usable(now) {
		return nil, errUnauthorized
	}
	cred := auth.Credential{Kind: auth.KindPersonalToken, ID: t.ID, Hash: t.SecretHash}
	if err := s.keys.Verify(ctx, cred, key.Secret, s.migrateToken(t.ID, t.SecretHash)); err != nil {
		return nil, s.keyError(c, cred, err)
	}
	u, err := s.store.UserByID(ctx, t.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errUnauthorized // the user was deleted under the token
	}
	if err != nil {
		return nil, err
	}
	if t.LastUsedAt == nil || now.Sub(*t.LastUsedAt) > touchEvery {
		if err := s.store.TouchAPIToken(ctx, t.ID); err != nil {
			s.log.Warn("record token use", zap.String("token_id", t.ID), zap.Error(err))
		}
	}
	return &Principal{Kind: ActorToken, User: u, TokenID: t.ID, Scopes: accounts.ScopesFromStore(t.Scopes),
		TokenExpiresAt: t.ExpiresAt}, nil
}

// verifyError is the answer to a credential check that failed: 429 with Retry-After when the
// credential failed too often recently (refused without hashing), 503 with Retry-After when
// every argon2id slot is taken, and wrong otherwise (a wrong secret, a malformed stored hash).
// Neither refusal is a 401: a satellite takes 401 as its key revoked and stops, and whoever
// floods a station's key id must not be able to stop the station that way.
func verifyError(c *gin.Context, err error, wrong *Error) error {
	if refused, ok := refusal(c, err); ok {
		return refused
	}
	return wrong
}

// keyError is the answer to an API key or token check that failed: verifyError's, except that a
// stored hash naming a pepper this server lacks is a configuration fault, logged and answered 503
// with Retry-After (a 401 would make the satellite stop for good).
func (s *Server) keyError(c *gin.Context, cred auth.Credential, err error) error {
	if errors.Is(err, auth.ErrUnknownPepper) {
		s.log.Error("cannot check a key: its hash names a pepper this server does not have "+
			"(give every replica the same TALOS_KEY_PEPPER, and keep old ones in TALOS_KEY_PEPPER_PREVIOUS)",
			zap.String("kind", cred.Kind), zap.String("key_id", cred.ID), zap.Error(err))
		c.Header("Retry-After", "60")
		return &Error{http.StatusServiceUnavailable, codeUnavailable, "this server cannot check this key now; retry later", ""}
	}
	return verifyError(c, err, errUnauthorized)
}

// migrateSatelliteKey stores a satellite key's new hash after a successful check of an outdated
// one (argon2id, or an older pepper), unless the key was rotated meanwhile.
func (s *Server) migrateSatelliteKey(sat *store.Satellite) auth.Migrate {
	return func(ctx context.Context, newHash string) {
		if _, err := s.store.ReplaceSatelliteKeyHash(ctx, sat.APIKeyID, sat.APIKeyHash, newHash); err != nil {
			s.log.Warn("migrate satellite key hash", zap.String("satellite_id", sat.ID), zap.Error(err))
		}
	}
}

// migrateToken is migrateSatelliteKey for a personal token.
func (s *Server) migrateToken(id, oldHash string) auth.Migrate {
	return func(ctx context.Context, newHash string) {
		if _, err := s.store.ReplaceAPITokenHash(ctx, id, oldHash, newHash); err != nil {
			s.log.Warn("migrate token hash", zap.String("token_id", id), zap.Error(err))
		}
	}
}

// guardError is the answer to argon2id work the guard refused (see verifyError); any other
// error is returned unchanged.
func guardError(c *gin.Context, err error) error {
	if refused, ok := refusal(c, err); ok {
		return refused
	}
	return err
}

// refusal translates the guard's refusals into their answers, setting Retry-After.
func refusal(c *gin.Context, err error) (*Error, bool) {
	var limited *auth.LimitedError
	switch {
	case errors.As(err, &limited):
		c.Header("Retry-After", itoa(ratelimit.RetryAfterSeconds(limited.RetryAfter)))
		return &Error{http.StatusTooManyRequests, api.ErrRateLimited, "too many failed attempts with this credential; retry later", ""}, true
	case errors.Is(err, auth.ErrBusy):
		c.Header("Retry-After", "1")
		return &Error{http.StatusServiceUnavailable, codeUnavailable, "too many credential checks in progress; retry shortly", ""}, true
	}
	return nil, false
}

// session authenticates the session cookie, checking the CSRF header on unsafe methods when
// checkCSRF is set.
func (s *Server) session(c *gin.Context, checkCSRF bool) (*Principal, error) {
	token, err := c.Cookie(SessionCookie)
	if err != nil || token == "" {
		return nil, errUnauthorized
	}
	ctx := c.Request.Context()
	sess, u, err := s.store.SessionByTokenHash(ctx, auth.HashSessionToken(token))
	if errors.Is(err, store.ErrNotFound) {
		return nil, errUnauthorized
	}
	if err != nil {
		return nil, err
	}
	if checkCSRF && unsafeMethod(c.Request.Method) && !s.csrf.Valid(sess.ID, c.GetHeader(HeaderCSRF)) {
		return nil, &Error{http.StatusForbidden, codeCSRF, "missing or wrong " + HeaderCSRF + " header", ""}
	}
	if s.store.Now().Sub(sess.LastSeenAt) > touchEvery {
		if err := s.store.TouchSession(ctx, sess.ID); err != nil {
			s.log.Warn("record session use", zap.String("session_id", sess.ID), zap.Error(err))
		}
	}
	return &Principal{Kind: ActorSession, User: u, SessionID: sess.ID}, nil
}

// requireUser admits only principals that are users (sessions and personal tokens).
func (s *Server) requireUser(c *gin.Context) {
	if p := principalOf(c); p == nil || p.User == nil {
		s.fail(c, errForbidden)
		return
	}
	c.Next()
}

// requireAdmin admits only global administrators.
func (s *Server) requireAdmin(c *gin.Context) {
	if p := principalOf(c); p == nil || p.User == nil || !p.User.IsAdmin {
		s.fail(c, errForbidden)
		return
	}
	c.Next()
}
