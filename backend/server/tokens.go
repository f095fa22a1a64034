package server

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/talos-gs/talos/backend/accounts"
	"github.com/talos-gs/talos/backend/store"
)

// tokenJSON is a personal API token as listed (never its secret or hash).
type tokenJSON struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Scopes     []string   `json:"scopes"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
}

func toTokenJSON(t *store.APIToken) tokenJSON {
	sc := accounts.ScopesFromStore(t.Scopes)
	names := make([]string, len(sc))
	for i := range sc {
		names[i] = string(sc[i])
	}
	return tokenJSON{ID: t.ID, Name: t.Name, Scopes: names, CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt,
		LastUsedAt: t.LastUsedAt, RevokedAt: t.RevokedAt}
}

// createdTokenJSON answers a token creation: the only time the full token is shown.
type createdTokenJSON struct {
	tokenJSON
	Token string `json:"token"`
}

type createTokenRequest struct {
	Name string `json:"name"`
	// TTL is a Go duration ("720h"); empty means the longest allowed (Options.TokenMaxTTL).
	TTL string `json:"ttl"`
	// Scopes default to read only.
	Scopes []string `json:"scopes"`

	ttl    time.Duration
	scopes accounts.Scopes
}

func (r *createTokenRequest) validate() error {
	if err := validText("name", r.Name, 1, 100); err != nil {
		return err
	}
	if r.Scopes == nil {
		r.scopes = accounts.Scopes{accounts.ScopeRead}
	} else if sc, err := accounts.ParseScopes("scopes", r.Scopes); err != nil {
		return err
	} else {
		r.scopes = sc
	}
	if r.TTL == "" {
		return nil
	}
	d, err := time.ParseDuration(r.TTL)
	if err != nil || d <= 0 {
		return errInvalid("ttl", "ttl must be a positive duration, e.g. \"720h\"")
	}
	r.ttl = d // the longest allowed is checked when issuing
	return nil
}

func (s *Server) tokenRoutes() {
	s.userAPI.GET("/me/tokens", s.listTokens)
	s.userAPI.POST("/me/tokens", s.createToken)
	s.userAPI.DELETE("/me/tokens/:tokenID", s.revokeToken)
}

func (s *Server) listTokens(c *gin.Context) {
	tokens, err := s.store.APITokensOfUser(c.Request.Context(), principalOf(c).User.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	out := make([]tokenJSON, len(tokens))
	for i := range tokens {
		out[i] = toTokenJSON(&tokens[i])
	}
	writeJSON(c, http.StatusOK, gin.H{"tokens": out})
}

// createToken mints a personal token. A token minting one passes on no more than it has: the
// new token's scopes must be among its own, and it expires no later than it does.
func (s *Server) createToken(c *gin.Context) {
	var req createTokenRequest
	if !s.bind(c, &req) {
		return
	}
	p := principalOf(c)
	n := accounts.NewToken{UserID: p.User.ID, Name: req.Name, Scopes: req.scopes, TTL: req.ttl, MaxTTL: s.opts.TokenMaxTTL}
	if p.Kind == ActorToken {
		if !p.Scopes.Covers(req.scopes) {
			s.fail(c, &Error{http.StatusForbidden, codeInsufficientScope,
				"a token can only create tokens with scopes it has (" + p.Scopes.String() + ")", "scopes"})
			return
		}
		n.NotAfter = p.TokenExpiresAt
	}
	key, t, err := accounts.IssueToken(c.Request.Context(), s.store, s.keyHash, n)
	if err != nil {
		s.fail(c, err)
		return
	}
	setAudit(c, auditInfo{Action: "token.create", ObjectType: "api_token", ObjectID: t.ID, Detail: t.Name + " " + t.Scopes})
	writeJSON(c, http.StatusCreated, createdTokenJSON{tokenJSON: toTokenJSON(t), Token: key.String()})
}

// revokeToken revokes one of the caller's own tokens; anyone else's is 404.
func (s *Server) revokeToken(c *gin.Context) {
	id := c.Param("tokenID")
	if err := s.store.RevokeAPIToken(c.Request.Context(), principalOf(c).User.ID, id); err != nil {
		s.fail(c, err)
		return
	}
	setAudit(c, auditInfo{Action: "token.revoke", ObjectType: "api_token", ObjectID: id})
	c.Status(http.StatusNoContent)
}
