package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// RegistrationToken is the stored side of a registration JWT: ID is the JWT's jti. The JWT
// proves who issued the token and for which scope; this row carries what can change after
// issue: the uses left and revocation.
type RegistrationToken struct {
	ID string `gorm:"primaryKey"`
	// TeamID is nil for a global token.
	TeamID      *string
	Name        string
	CreatedBy   string
	CreatedAt   time.Time
	ExpiresAt   time.Time
	UsesAllowed int
	UsesLeft    int
	// RatePerMinute, when above 0, limits registrations with this token to so many a minute
	// (burst as many), in place of the per-address limit.
	RatePerMinute int
	LastUsedAt    *time.Time
	RevokedAt     *time.Time
}

// Why a registration token cannot be consumed. The server maps each to its stable error code.
var (
	ErrTokenUnknown  = errors.New("registration token unknown or revoked")
	ErrTokenExpired  = errors.New("registration token expired")
	ErrTokenUsedUp   = errors.New("registration token already used")
	errTokenNotTaken = errors.New("registration token not consumed")
)

// CreateRegistrationToken stores t; the caller chose t.ID (the jti) and the expiry.
func (s *Store) CreateRegistrationToken(ctx context.Context, t *RegistrationToken) error {
	t.CreatedAt = s.Now()
	t.UsesLeft = t.UsesAllowed
	if err := translate(s.db.WithContext(ctx).Create(t).Error); err != nil {
		return fmt.Errorf("create registration token: %w", err)
	}
	return nil
}

// RegistrationTokens lists tokens, newest first: every token when teamID is nil, else the team's.
func (s *Store) RegistrationTokens(ctx context.Context, teamID *string) ([]RegistrationToken, error) {
	q := s.db.WithContext(ctx).Order("created_at DESC, id")
	if teamID != nil {
		q = q.Where("team_id = ?", *teamID)
	}
	var out []RegistrationToken
	if err := q.Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list registration tokens: %w", err)
	}
	return out, nil
}

// RevokeRegistrationToken revokes a token; with teamID set, only a token of that team
// (another team's, or a global one, is ErrNotFound).
func (s *Store) RevokeRegistrationToken(ctx context.Context, teamID *string, id string) error {
	q := s.db.WithContext(ctx).Model(&RegistrationToken{}).Where("id = ? AND revoked_at IS NULL", id)
	if teamID != nil {
		q = q.Where("team_id = ?", *teamID)
	}
	res := q.Update("revoked_at", s.Now())
	if res.Error != nil {
		return fmt.Errorf("revoke registration token %s: %w", id, res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("revoke registration token %s: %w", id, ErrNotFound)
	}
	return nil
}

// ConsumeRegistrationToken takes one use of token id in a single conditional UPDATE, so two
// racing registrations cannot both take the last use (whichever commits second matches no
// row). When no row changes, it reads the token to say why: ErrTokenUnknown, ErrTokenExpired
// or ErrTokenUsedUp.
func (s *Store) ConsumeRegistrationToken(ctx context.Context, id string) (*RegistrationToken, error) {
	now := s.Now()
	res := s.db.WithContext(ctx).Exec(`UPDATE registration_tokens
		SET uses_left = uses_left - 1, last_used_at = ?
		WHERE id = ? AND uses_left > 0 AND revoked_at IS NULL AND expires_at > ?`, now, id, now)
	if res.Error != nil {
		return nil, fmt.Errorf("consume registration token %s: %w", id, res.Error)
	}
	var t RegistrationToken
	err := translate(s.db.WithContext(ctx).Take(&t, "id = ?", id).Error)
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, ErrTokenUnknown
	case err != nil:
		return nil, fmt.Errorf("read registration token %s: %w", id, err)
	case res.RowsAffected == 1:
		return &t, nil
	}
	return nil, whyNotConsumed(&t, now)
}

func whyNotConsumed(t *RegistrationToken, now time.Time) error {
	switch {
	case t.RevokedAt != nil:
		return ErrTokenUnknown
	case !now.Before(t.ExpiresAt):
		return ErrTokenExpired
	case t.UsesLeft <= 0:
		return ErrTokenUsedUp
	}
	return errTokenNotTaken
}

// TeamBySlug returns a team by its slug or ErrNotFound.
func (s *Store) TeamBySlug(ctx context.Context, slug string) (*Team, error) {
	var t Team
	if err := translate(s.db.WithContext(ctx).Take(&t, "slug = ?", slug).Error); err != nil {
		return nil, fmt.Errorf("team %s: %w", slug, err)
	}
	return &t, nil
}
