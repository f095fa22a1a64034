// Package accounts holds the rules for creating users and personal API tokens that the HTTP API,
// the command line and the first-start bootstrap share: what a valid email and password are, how
// a token is minted, and how the first administrator comes to exist.
package accounts

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/talos-gs/talos/backend/auth"
	"github.com/talos-gs/talos/backend/store"
)

// Password length limits, in characters. The upper bound keeps argon2id's input bounded.
const (
	MinPasswordLen = 12
	MaxPasswordLen = 1024
)

// FieldError is a validation failure of one input field.
type FieldError struct {
	Field   string
	Message string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

// ValidateEmail checks the shape of an email address (the mail system checks the rest).
func ValidateEmail(field, email string) error {
	email = strings.TrimSpace(email)
	at := strings.LastIndexByte(email, '@')
	switch {
	case email == "":
		return &FieldError{field, "is required"}
	case len(email) > 254 || !utf8.ValidString(email):
		return &FieldError{field, "is too long or not UTF-8"}
	case at < 1 || at == len(email)-1 || strings.ContainsAny(email, " \t\r\n<>\"'"):
		return &FieldError{field, "is not an email address"}
	}
	return nil
}

// ValidatePassword checks a new password's length.
func ValidatePassword(field, password string) error {
	n := utf8.RuneCountInString(password)
	switch {
	case n < MinPasswordLen:
		return &FieldError{field, fmt.Sprintf("must be at least %d characters", MinPasswordLen)}
	case len(password) > MaxPasswordLen:
		return &FieldError{field, fmt.Sprintf("must be at most %d bytes", MaxPasswordLen)}
	}
	return nil
}

// NewUser describes a user to create.
type NewUser struct {
	Email              string
	DisplayName        string
	Password           string
	Admin              bool
	MustChangePassword bool
}

// CreateUser validates n, hashes the password and stores the user.
func CreateUser(ctx context.Context, st *store.Store, h auth.Hasher, n NewUser) (*store.User, error) {
	if err := ValidateEmail("email", n.Email); err != nil {
		return nil, err
	}
	if err := ValidatePassword("password", n.Password); err != nil {
		return nil, err
	}
	hash, err := h.Hash(n.Password)
	if err != nil {
		return nil, fmt.Errorf("create user: %w", err)
	}
	u := &store.User{Email: n.Email, DisplayName: strings.TrimSpace(n.DisplayName), PasswordHash: hash,
		IsAdmin: n.Admin, MustChangePassword: n.MustChangePassword}
	if err := st.CreateUser(ctx, u); err != nil {
		return nil, err
	}
	return u, nil
}

// DefaultMaxTokenTTL is the longest lifetime of a personal token unless the operator sets
// another (TALOS_TOKEN_MAX_TTL): every token expires, by default within a year.
const DefaultMaxTokenTTL = 365 * 24 * time.Hour

// NewToken describes a personal API token to mint.
type NewToken struct {
	UserID string
	Name   string
	Scopes Scopes
	// TTL is the token's lifetime; 0 means MaxTTL (or until NotAfter, when that is sooner).
	TTL time.Duration
	// MaxTTL is the longest TTL allowed (0: DefaultMaxTokenTTL).
	MaxTTL time.Duration
	// NotAfter, when set, is the expiry of the token minting this one: the new token may not
	// outlive it, so a token about to expire cannot extend itself.
	NotAfter *time.Time
}

// IssueToken validates n and mints the token, storing the keyed hash of its secret (decision
// 0092). The returned key is the only time the secret exists outside the caller.
func IssueToken(ctx context.Context, st *store.Store, h *auth.KeyHasher, n NewToken) (auth.Key, *store.APIToken, error) {
	if len(n.Scopes) == 0 {
		return auth.Key{}, nil, &FieldError{"scopes", "must name at least one of read, operate, admin"}
	}
	now := st.Now()
	exp, err := tokenExpiry(now, n)
	if err != nil {
		return auth.Key{}, nil, err
	}
	key, err := auth.NewKey(auth.PrefixPersonal)
	if err != nil {
		return auth.Key{}, nil, fmt.Errorf("issue token: %w", err)
	}
	t := &store.APIToken{ID: key.ID, UserID: n.UserID, Name: n.Name, SecretHash: h.Hash(key.Secret),
		Scopes: n.Scopes.String(), CreatedAt: now, ExpiresAt: &exp}
	if err := st.CreateAPIToken(ctx, t); err != nil {
		return auth.Key{}, nil, fmt.Errorf("issue token: %w", err)
	}
	return key, t, nil
}

// tokenExpiry is when a token minted at now with n's lifetime rules expires.
func tokenExpiry(now time.Time, n NewToken) (time.Time, error) {
	maxTTL := n.MaxTTL
	if maxTTL <= 0 {
		maxTTL = DefaultMaxTokenTTL
	}
	if n.TTL < 0 || n.TTL > maxTTL {
		return time.Time{}, &FieldError{"ttl", fmt.Sprintf("must be a positive duration up to %s", formatHours(maxTTL))}
	}
	if n.TTL == 0 {
		exp := now.Add(maxTTL)
		if n.NotAfter != nil && n.NotAfter.Before(exp) {
			exp = *n.NotAfter
		}
		return exp, nil
	}
	exp := now.Add(n.TTL)
	if n.NotAfter != nil && exp.After(*n.NotAfter) {
		return time.Time{}, &FieldError{"ttl", fmt.Sprintf("must not outlast the token creating it, which expires at %s",
			n.NotAfter.UTC().Format(time.RFC3339))}
	}
	return exp, nil
}

// formatHours writes a duration as Go parses it, in whole hours where it is whole hours
// ("8760h" rather than "8760h0m0s").
func formatHours(d time.Duration) string {
	if d%time.Hour == 0 {
		return fmt.Sprintf("%dh", d/time.Hour)
	}
	return d.String()
}

// Bootstrap is the outcome of EnsureAdmin.
type Bootstrap struct {
	// Created is true when this call created the first administrator.
	Created bool
	Email   string
	// Password is set only when it was generated here and must be shown to the operator once.
	Password string
}

// EnsureAdmin creates the first administrator when the database has no user at all. The
// password is the given one, or a random one that the caller prints once; either way the admin
// is asked to change it. Two replicas racing here are fine: the loser's insert conflicts on the
// email and it reports nothing created.
func EnsureAdmin(ctx context.Context, st *store.Store, h auth.Hasher, email, password string) (Bootstrap, error) {
	n, err := st.CountUsers(ctx)
	if err != nil || n > 0 {
		return Bootstrap{}, err
	}
	generated := password == ""
	if generated {
		if password, err = auth.RandomString(15); err != nil {
			return Bootstrap{}, fmt.Errorf("bootstrap admin: %w", err)
		}
	}
	_, err = CreateUser(ctx, st, h, NewUser{Email: email, DisplayName: "Administrator", Password: password,
		Admin: true, MustChangePassword: true})
	if errors.Is(err, store.ErrConflict) {
		return Bootstrap{}, nil
	}
	if err != nil {
		return Bootstrap{}, fmt.Errorf("bootstrap admin: %w", err)
	}
	b := Bootstrap{Created: true, Email: store.NormalizeEmail(email)}
	if generated {
		b.Password = password
	}
	return b, nil
}
