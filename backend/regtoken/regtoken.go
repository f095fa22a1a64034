// Package regtoken issues and checks satellite registration tokens: JWTs signed with HS256 under
// a key derived from the server's secret, with aud "satellite-registration", a jti naming the
// stored row (store.RegistrationToken) and the scope (global or one team). The HTTP API and the
// `talos-backend token create` command both issue through this package.
//
// The JWT alone is never enough: registration also consumes one use of the row in a single
// conditional UPDATE, which is where revocation, use counts and races are decided.
package regtoken

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/talos-gs/talos/backend/store"
)

// Audience is the JWT aud of every registration token.
const Audience = "satellite-registration"

// Issuer is the JWT iss of every registration token.
const Issuer = "talos-backend"

// Default lifetimes and limits.
const (
	DefaultGlobalTTL = time.Hour
	DefaultTeamTTL   = 24 * time.Hour
	MaxTTL           = 30 * 24 * time.Hour
	MaxUses          = 10_000
	// MaxRatePerMinute bounds a token's own registration rate.
	MaxRatePerMinute = 600
)

// Scopes of a token.
const (
	ScopeGlobal = "global"
	ScopeTeam   = "team"
)

// Errors of Parse.
var (
	// ErrInvalid: not a registration token of this server (bad signature, alg, audience, shape).
	ErrInvalid = errors.New("invalid registration token")
	// ErrExpired: a genuine token past its expiry.
	ErrExpired = errors.New("registration token expired")
)

// Claims are a registration token's claims.
type Claims struct {
	Scope  string `json:"scope"`
	TeamID string `json:"team_id,omitempty"`
	// RatePerMinute is the token's own registration rate (0: the per-address limit applies).
	// It is in the signed claims so the rate limiter can apply it before any database work.
	RatePerMinute int `json:"rpm,omitempty"`
	jwt.RegisteredClaims
}

// Tokens issues and parses registration tokens under one server secret.
type Tokens struct {
	key []byte
	now func() time.Time
}

// New derives the signing key from the server's secret (so a registration token and a CSRF
// token never share a key) and uses now as the clock (nil: time.Now).
func New(secret []byte, now func() time.Time) *Tokens {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte("talos satellite registration token v1"))
	if now == nil {
		now = time.Now
	}
	return &Tokens{key: mac.Sum(nil), now: now}
}

// Request describes a token to issue.
type Request struct {
	// TeamID scopes the token to a team; nil issues a global token.
	TeamID *string
	// TTL is the lifetime; zero picks the scope's default.
	TTL time.Duration
	// Uses is how many registrations it allows; zero means one.
	Uses int
	// RatePerMinute gives a multi-use token its own registration rate (0: none).
	RatePerMinute int
	Name          string
	CreatedBy     string
}

// Validate checks the request's numbers and names the offending field.
func (r *Request) Validate() error {
	switch {
	case r.TTL < 0 || r.TTL > MaxTTL:
		return &FieldError{"ttl", fmt.Sprintf("must be a positive duration up to %s", MaxTTL)}
	case r.Uses < 0 || r.Uses > MaxUses:
		return &FieldError{"uses", fmt.Sprintf("must be 1 to %d", MaxUses)}
	case r.RatePerMinute < 0 || r.RatePerMinute > MaxRatePerMinute:
		return &FieldError{"rate_per_minute", fmt.Sprintf("must be 0 to %d", MaxRatePerMinute)}
	case r.RatePerMinute > 0 && r.Uses < 2:
		return &FieldError{"rate_per_minute", "needs a multi-use token (uses of 2 or more)"}
	case len(r.Name) > 100:
		return &FieldError{"name", "must be at most 100 characters"}
	}
	return nil
}

// FieldError is a validation failure of one field of a Request.
type FieldError struct{ Field, Message string }

func (e *FieldError) Error() string { return e.Field + " " + e.Message }

// Issue stores a token row and returns the signed JWT (shown once) with the row.
func (t *Tokens) Issue(ctx context.Context, st *store.Store, r Request) (string, *store.RegistrationToken, error) {
	if err := r.Validate(); err != nil {
		return "", nil, err
	}
	ttl, uses := r.TTL, max(r.Uses, 1)
	if ttl == 0 {
		ttl = DefaultGlobalTTL
		if r.TeamID != nil {
			ttl = DefaultTeamTTL
		}
	}
	now := st.Now()
	row := &store.RegistrationToken{ID: store.NewID(), TeamID: r.TeamID, Name: r.Name, CreatedBy: r.CreatedBy,
		ExpiresAt: now.Add(ttl), UsesAllowed: uses, RatePerMinute: r.RatePerMinute}
	signed, err := t.sign(row, now)
	if err != nil {
		return "", nil, err
	}
	if err := st.CreateRegistrationToken(ctx, row); err != nil {
		return "", nil, err
	}
	return signed, row, nil
}

func (t *Tokens) sign(row *store.RegistrationToken, now time.Time) (string, error) {
	c := Claims{Scope: ScopeGlobal, RatePerMinute: row.RatePerMinute, RegisteredClaims: jwt.RegisteredClaims{
		Issuer: Issuer, Audience: jwt.ClaimStrings{Audience}, ID: row.ID,
		IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(row.ExpiresAt),
	}}
	if row.TeamID != nil {
		c.Scope, c.TeamID = ScopeTeam, *row.TeamID
	}
	signed, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(t.key)
	if err != nil {
		return "", fmt.Errorf("sign registration token: %w", err)
	}
	return signed, nil
}

// Parse checks a token's signature (HS256 only: "none" and every other alg are refused),
// audience, issuer, expiry and claims, and returns them. It returns ErrExpired for a genuine
// expired token and ErrInvalid for anything else.
func (t *Tokens) Parse(raw string) (*Claims, error) {
	if len(raw) > 4096 {
		return nil, ErrInvalid
	}
	var c Claims
	_, err := jwt.ParseWithClaims(raw, &c, func(*jwt.Token) (any, error) { return t.key, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithAudience(Audience), jwt.WithIssuer(Issuer), jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(t.now), jwt.WithStrictDecoding())
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return nil, ErrExpired
	case err != nil:
		return nil, ErrInvalid
	}
	if !store.ValidID(c.ID) || !c.validScope() {
		return nil, ErrInvalid
	}
	return &c, nil
}

func (c *Claims) validScope() bool {
	switch c.Scope {
	case ScopeGlobal:
		return c.TeamID == ""
	case ScopeTeam:
		return store.ValidID(c.TeamID)
	}
	return false
}
