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

// MaxTokenTTL is the longest lifetime a personal token may be given.
const MaxTokenTTL = 5 * 365 * 24 * time.Hour

// IssueToken mints a personal API token for userID; ttl 0 means it never expires. The returned
// key is the only time the secret exists outside the caller.
func IssueToken(ctx context.Context, st *store.Store, h auth.Hasher, userID, name string, ttl time.Duration) (auth.Key, *store.APIToken, error) {
	if ttl < 0 || ttl > MaxTokenTTL {
		return auth.Key{}, nil, &FieldError{"ttl", "must be between 0 (no expiry) and 5 years"}
	}
	key, err := auth.NewKey(auth.PrefixPersonal)
	if err != nil {
		return auth.Key{}, nil, fmt.Errorf("issue token: %w", err)
	}
	hash, err := h.Hash(key.Secret)
	if err != nil {
		return auth.Key{}, nil, fmt.Errorf("issue token: %w", err)
	}
	t := &store.APIToken{ID: key.ID, UserID: userID, Name: name, SecretHash: hash}
	if ttl > 0 {
		exp := st.Now().Add(ttl)
		t.ExpiresAt = &exp
	}
	if err := st.CreateAPIToken(ctx, t); err != nil {
		return auth.Key{}, nil, fmt.Errorf("issue token: %w", err)
	}
	return key, t, nil
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
