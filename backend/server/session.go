package server

import (
	"errors"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
	"go.uber.org/zap"

	"github.com/talos-gs/talos/backend/accounts"
	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/backend/auth"
	"github.com/talos-gs/talos/backend/ratelimit"
	"github.com/talos-gs/talos/backend/store"
)

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

func (r *loginRequest) validate() error {
	if strings.TrimSpace(r.Email) == "" {
		return errInvalid("email", "email is required")
	}
	if r.Password == "" {
		return errInvalid("password", "password is required")
	}
	if len(r.Password) > accounts.MaxPasswordLen || len(r.Email) > 254 {
		return errInvalid("password", "email or password too long")
	}
	return nil
}

type loginResponse struct {
	CSRFToken string   `json:"csrf_token"`
	User      userJSON `json:"user"`
}

func (s *Server) sessionRoutes() {
	s.api.POST("/auth/logout", s.logout)
}

// login checks email and password and starts a session: the cookie carries the session token,
// the body the CSRF token the client must echo in X-CSRF-Token on unsafe requests.
func (s *Server) login(c *gin.Context) {
	if !s.allowAddress(c, "too many login attempts; retry later") {
		return
	}
	var req loginRequest
	if !s.bind(c, &req) {
		return
	}
	u, err := s.checkPassword(c, req.Email, req.Password)
	if err != nil {
		setAudit(c, auditInfo{Action: "auth.login_failed", ObjectType: "user", Detail: store.NormalizeEmail(req.Email), Always: true})
		s.fail(c, err)
		return
	}
	token, err := auth.NewSessionToken()
	if err != nil {
		s.fail(c, err)
		return
	}
	sess := &store.Session{UserID: u.ID, TokenHash: auth.HashSessionToken(token),
		ClientAddr: c.ClientIP(), UserAgent: truncate(c.Request.UserAgent(), 200)}
	if err := s.store.CreateSession(c.Request.Context(), sess, s.opts.SessionTTL); err != nil {
		s.fail(c, err)
		return
	}
	s.setSessionCookie(c, token, int(s.opts.SessionTTL.Seconds()))
	setAudit(c, auditInfo{Action: "auth.login", ObjectType: "user", ObjectID: u.ID, ActorID: u.ID})
	writeJSON(c, http.StatusOK, loginResponse{CSRFToken: s.csrf.Token(sess.ID), User: toUserJSON(u)})
}

// allowAddress applies the per-address limit of password attempts (logins and password
// changes share it), answering 429 with Retry-After and returning false when it is used up.
func (s *Server) allowAddress(c *gin.Context, message string) bool {
	if ok, wait := s.opts.LoginLimiter.Allow(c.ClientIP()); !ok {
		c.Header("Retry-After", itoa(ratelimit.RetryAfterSeconds(wait)))
		s.fail(c, &Error{http.StatusTooManyRequests, api.ErrRateLimited, message, ""})
		return false
	}
	return true
}

// passwordAttempt is how the guard counts a guess of email's password from this request: per
// account, and per client address on that account. Past the account's failure limit only the
// addresses that failed on it are refused, so a flood of wrong passwords locks out the
// flooder's addresses rather than the account's owner (docs/decisions/0063).
func (s *Server) passwordAttempt(c *gin.Context, email string) auth.Attempt {
	return auth.Attempt{Kind: auth.KindPassword, Subject: auth.KindPassword + ":" + store.NormalizeEmail(email),
		Client: c.ClientIP()}
}

var errWrongPassword = &Error{http.StatusUnauthorized, codeInvalidCredentials, "wrong email or password", ""}

// checkPassword returns the user whose password matches, or 401. Unknown emails cost the same
// argon2id work as wrong passwords, and are limited the same way: after repeated failures for
// one email (known or not, so the answer reveals nothing) further attempts from the addresses
// that failed are refused without hashing for a while (passwordAttempt); the per-address
// LoginLimiter alone would let many addresses guess one account's password.
func (s *Server) checkPassword(c *gin.Context, email, password string) (*store.User, error) {
	ctx := c.Request.Context()
	u, err := s.store.UserByEmail(ctx, email)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	hash := s.dummyHash
	if u != nil {
		hash = u.PasswordHash
	}
	err = s.guard.Check(ctx, s.passwordAttempt(c, email), func() error { return s.hasher.Verify(hash, password) })
	if err != nil {
		return nil, verifyError(c, err, errWrongPassword)
	}
	if u == nil {
		return nil, errWrongPassword
	}
	if s.hasher.NeedsRehash(u.PasswordHash) {
		s.upgradeHash(c, u, password)
	}
	return u, nil
}

// upgradeHash re-hashes a password made with older parameters, in a guard slot; failure
// (busy slots included) only delays the upgrade.
func (s *Server) upgradeHash(c *gin.Context, u *store.User, password string) {
	var hash string
	err := s.guard.Run(c.Request.Context(), auth.KindPassword, func() (err error) {
		hash, err = s.hasher.Hash(password)
		return err
	})
	if err == nil {
		err = s.store.UpgradePasswordHash(c.Request.Context(), u.ID, hash)
	}
	if err != nil {
		s.log.Warn("upgrade password hash", zap.String("user_id", u.ID), zap.Error(err))
	}
}

func (s *Server) logout(c *gin.Context) {
	p := principalOf(c)
	if p.SessionID == "" {
		s.fail(c, errInvalid("", "logout ends a browser session; revoke API tokens under /api/me/tokens"))
		return
	}
	if err := s.store.DeleteSession(c.Request.Context(), p.SessionID); err != nil {
		s.fail(c, err)
		return
	}
	s.setSessionCookie(c, "", -1)
	setAudit(c, auditInfo{Action: "auth.logout", ObjectType: "session", ObjectID: p.SessionID})
	c.Status(http.StatusNoContent)
}

// setSessionCookie writes (or, with maxAge < 0, clears) the session cookie: HttpOnly so scripts
// cannot read it, SameSite=Lax so other sites cannot send it with their forms, Secure whenever
// the browser came over HTTPS, here or through a trusted proxy (overHTTPS).
func (s *Server) setSessionCookie(c *gin.Context, value string, maxAge int) {
	//nolint:gosec // Secure is set whenever clients use HTTPS; plain HTTP serves local development
	http.SetCookie(c.Writer, &http.Cookie{
		Name: SessionCookie, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: s.overHTTPS(c), SameSite: http.SameSiteLaxMode,
	})
}
