package store

import (
	"context"
	"fmt"
	"time"
)

// APIToken is a personal API token for scripts. ID is the public key id carried in the token
// itself, so verification looks the row up by primary key and checks one keyed hash
// (docs/decisions/0092), never scanning rows.
type APIToken struct {
	ID         string `gorm:"primaryKey"`
	UserID     string
	Name       string
	SecretHash string
	// Scopes are the token's scope names separated by spaces (backend/accounts reads them).
	Scopes     string
	CreatedAt  time.Time
	ExpiresAt  *time.Time
	LastUsedAt *time.Time
	RevokedAt  *time.Time
}

// Usable reports whether the token may authenticate at now.
func (t *APIToken) Usable(now time.Time) bool {
	return t.RevokedAt == nil && (t.ExpiresAt == nil || now.Before(*t.ExpiresAt))
}

// CreateAPIToken stores t; the caller has chosen t.ID (the public key id) and hashed the secret,
// and may have set CreatedAt (the time its expiry was counted from; default now).
func (s *Store) CreateAPIToken(ctx context.Context, t *APIToken) error {
	if t.CreatedAt.IsZero() {
		t.CreatedAt = s.Now()
	}
	if err := translate(s.db.WithContext(ctx).Create(t).Error); err != nil {
		return fmt.Errorf("create api token for %s: %w", t.UserID, err)
	}
	return nil
}

// APITokenByID returns a token by its public key id (whatever its state) or ErrNotFound.
func (s *Store) APITokenByID(ctx context.Context, id string) (*APIToken, error) {
	var t APIToken
	if err := translate(s.db.WithContext(ctx).Take(&t, "id = ?", id).Error); err != nil {
		return nil, fmt.Errorf("api token %s: %w", id, err)
	}
	return &t, nil
}

// APITokensOfUser lists a user's tokens, newest first, revoked ones included.
func (s *Store) APITokensOfUser(ctx context.Context, userID string) ([]APIToken, error) {
	var out []APIToken
	err := s.db.WithContext(ctx).Where("user_id = ?", userID).Order("created_at DESC, id").Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("api tokens of %s: %w", userID, err)
	}
	return out, nil
}

// RevokeAPIToken revokes one of userID's tokens; another user's token is ErrNotFound.
func (s *Store) RevokeAPIToken(ctx context.Context, userID, id string) error {
	res := s.db.WithContext(ctx).Model(&APIToken{}).
		Where("id = ? AND user_id = ? AND revoked_at IS NULL", id, userID).Update("revoked_at", s.Now())
	if res.Error != nil {
		return fmt.Errorf("revoke api token %s: %w", id, res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("revoke api token %s: %w", id, ErrNotFound)
	}
	return nil
}

// TouchAPIToken records a use of the token; callers throttle it.
func (s *Store) TouchAPIToken(ctx context.Context, id string) error {
	err := s.db.WithContext(ctx).Model(&APIToken{}).Where("id = ?", id).Update("last_used_at", s.Now()).Error
	if err != nil {
		return fmt.Errorf("touch api token %s: %w", id, err)
	}
	return nil
}

// RevokeAPITokensOfUser revokes every live token of userID (after a password change) and
// reports how many.
func (s *Store) RevokeAPITokensOfUser(ctx context.Context, userID string) (int64, error) {
	res := s.db.WithContext(ctx).Model(&APIToken{}).
		Where("user_id = ? AND revoked_at IS NULL", userID).Update("revoked_at", s.Now())
	if res.Error != nil {
		return 0, fmt.Errorf("revoke api tokens of %s: %w", userID, res.Error)
	}
	return res.RowsAffected, nil
}

// ReplaceAPITokenHash stores newHash as the token's secret hash, but only while oldHash is still
// stored (see ReplaceSatelliteKeyHash). It reports whether it replaced the hash.
func (s *Store) ReplaceAPITokenHash(ctx context.Context, id, oldHash, newHash string) (bool, error) {
	res := s.db.WithContext(ctx).Model(&APIToken{}).Where("id = ? AND secret_hash = ?", id, oldHash).
		UpdateColumn("secret_hash", newHash)
	if res.Error != nil {
		return false, fmt.Errorf("replace secret hash of api token %s: %w", id, res.Error)
	}
	return res.RowsAffected == 1, nil
}
