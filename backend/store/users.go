package store

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// User is a person who logs in. PasswordHash is an argon2id PHC string (see backend/auth).
type User struct {
	ID                 string `gorm:"primaryKey"`
	Email              string // lower-case, unique
	DisplayName        string
	PasswordHash       string
	IsAdmin            bool // global administrator: acts as owner of every team
	MustChangePassword bool // set for the bootstrap admin until they choose a password
	CreatedAt          time.Time
	UpdatedAt          time.Time
}

// NormalizeEmail is the form emails are stored and looked up in.
func NormalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// CreateUser inserts u, filling ID and timestamps. A taken email is ErrConflict.
func (s *Store) CreateUser(ctx context.Context, u *User) error {
	now := s.Now()
	u.ID, u.Email, u.CreatedAt, u.UpdatedAt = NewID(), NormalizeEmail(u.Email), now, now
	if err := translate(s.db.WithContext(ctx).Create(u).Error); err != nil {
		return fmt.Errorf("create user %s: %w", u.Email, err)
	}
	return nil
}

// UserByID returns one user or ErrNotFound.
func (s *Store) UserByID(ctx context.Context, id string) (*User, error) {
	var u User
	if err := translate(s.db.WithContext(ctx).Take(&u, "id = ?", id).Error); err != nil {
		return nil, fmt.Errorf("user %s: %w", id, err)
	}
	return &u, nil
}

// UserByEmail returns one user or ErrNotFound.
func (s *Store) UserByEmail(ctx context.Context, email string) (*User, error) {
	var u User
	err := translate(s.db.WithContext(ctx).Take(&u, "email = ?", NormalizeEmail(email)).Error)
	if err != nil {
		return nil, fmt.Errorf("user by email: %w", err)
	}
	return &u, nil
}

// ListUsers returns every user, oldest first.
func (s *Store) ListUsers(ctx context.Context) ([]User, error) {
	var users []User
	if err := s.db.WithContext(ctx).Order("id").Find(&users).Error; err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return users, nil
}

// CountUsers returns the number of users (0 on a fresh install).
func (s *Store) CountUsers(ctx context.Context) (int64, error) {
	var n int64
	if err := s.db.WithContext(ctx).Model(&User{}).Count(&n).Error; err != nil {
		return 0, fmt.Errorf("count users: %w", err)
	}
	return n, nil
}

// SetPassword replaces a user's password hash and clears MustChangePassword. Whoever might
// have known the old password loses access with it, in the same transaction: every session but
// keepSessionID ends (keepSessionID "": all of them) and every personal token is revoked
// (docs/decisions/0064). It reports how many tokens were revoked.
func (s *Store) SetPassword(ctx context.Context, userID, hash, keepSessionID string) (revoked int64, err error) {
	err = s.Tx(ctx, func(tx *Store) error {
		res := tx.db.WithContext(ctx).Model(&User{}).Where("id = ?", userID).Updates(map[string]any{
			"password_hash": hash, "must_change_password": false, "updated_at": tx.Now(),
		})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return ErrNotFound
		}
		if err := tx.DeleteOtherSessions(ctx, userID, keepSessionID); err != nil {
			return err
		}
		revoked, err = tx.RevokeAPITokensOfUser(ctx, userID)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("set password of %s: %w", userID, err)
	}
	return revoked, nil
}

// UpgradePasswordHash replaces a hash with a stronger one of the same password.
func (s *Store) UpgradePasswordHash(ctx context.Context, userID, hash string) error {
	err := s.db.WithContext(ctx).Model(&User{}).Where("id = ?", userID).Update("password_hash", hash).Error
	if err != nil {
		return fmt.Errorf("upgrade password hash of %s: %w", userID, err)
	}
	return nil
}
