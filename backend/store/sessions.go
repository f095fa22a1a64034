package store

import (
	"context"
	"fmt"
	"time"
)

// Session is a browser login. The cookie carries a random token; only its SHA-256 (TokenHash)
// is stored, so a leaked database does not hand out live sessions (docs/decisions/0013).
type Session struct {
	ID         string `gorm:"primaryKey"`
	UserID     string
	TokenHash  string
	ClientAddr string
	UserAgent  string
	CreatedAt  time.Time
	ExpiresAt  time.Time
	LastSeenAt time.Time
}

// CreateSession stores a new session for userID lasting ttl.
func (s *Store) CreateSession(ctx context.Context, sess *Session, ttl time.Duration) error {
	now := s.Now()
	sess.ID, sess.CreatedAt, sess.LastSeenAt, sess.ExpiresAt = NewID(), now, now, now.Add(ttl)
	if err := translate(s.db.WithContext(ctx).Create(sess).Error); err != nil {
		return fmt.Errorf("create session for %s: %w", sess.UserID, err)
	}
	return nil
}

// SessionByTokenHash returns the unexpired session with this token hash and its user, or
// ErrNotFound.
func (s *Store) SessionByTokenHash(ctx context.Context, tokenHash string) (*Session, *User, error) {
	var sess Session
	err := translate(s.db.WithContext(ctx).
		Take(&sess, "token_hash = ? AND expires_at > ?", tokenHash, s.Now()).Error)
	if err != nil {
		return nil, nil, fmt.Errorf("session: %w", err)
	}
	u, err := s.UserByID(ctx, sess.UserID)
	if err != nil {
		return nil, nil, fmt.Errorf("session user: %w", err)
	}
	return &sess, u, nil
}

// TouchSession records that the session was used; callers throttle it.
func (s *Store) TouchSession(ctx context.Context, id string) error {
	err := s.db.WithContext(ctx).Model(&Session{}).Where("id = ?", id).Update("last_seen_at", s.Now()).Error
	if err != nil {
		return fmt.Errorf("touch session %s: %w", id, err)
	}
	return nil
}

// DeleteSession ends one session (logout).
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	if err := s.db.WithContext(ctx).Delete(&Session{}, "id = ?", id).Error; err != nil {
		return fmt.Errorf("delete session %s: %w", id, err)
	}
	return nil
}

// DeleteOtherSessions ends every session of userID except keepID (after a password change).
func (s *Store) DeleteOtherSessions(ctx context.Context, userID, keepID string) error {
	err := s.db.WithContext(ctx).Delete(&Session{}, "user_id = ? AND id <> ?", userID, keepID).Error
	if err != nil {
		return fmt.Errorf("delete sessions of %s: %w", userID, err)
	}
	return nil
}

// DeleteExpiredSessions removes sessions that expired before now and reports how many.
func (s *Store) DeleteExpiredSessions(ctx context.Context) (int64, error) {
	res := s.db.WithContext(ctx).Delete(&Session{}, "expires_at <= ?", s.Now())
	if res.Error != nil {
		return 0, fmt.Errorf("delete expired sessions: %w", res.Error)
	}
	return res.RowsAffected, nil
}
