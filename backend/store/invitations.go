package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Invitation asks the user with Email to join TeamID with Role. Nobody joins a team without
// accepting; the invitation is made the same way whether a user has that email or not, so it
// reveals nothing about which emails exist.
type Invitation struct {
	ID         string `gorm:"primaryKey"`
	TeamID     string
	Email      string
	Role       Role
	InvitedBy  string
	CreatedAt  time.Time
	ExpiresAt  time.Time
	AcceptedAt *time.Time
	DeclinedAt *time.Time
}

// TableName is the invitations' table.
func (Invitation) TableName() string { return "team_invitations" }

// ErrInvitationClosed means the invitation was already accepted, declined or has expired.
var ErrInvitationClosed = errors.New("the invitation is no longer open")

// CreateInvitation stores inv (its ID, email form and times are set here) valid for ttl.
func (s *Store) CreateInvitation(ctx context.Context, inv *Invitation, ttl time.Duration) error {
	now := s.Now()
	inv.ID, inv.Email, inv.CreatedAt, inv.ExpiresAt = NewID(), NormalizeEmail(inv.Email), now, now.Add(ttl)
	if err := s.db.WithContext(ctx).Create(inv).Error; err != nil {
		return fmt.Errorf("invite %s to team %s: %w", inv.Email, inv.TeamID, err)
	}
	return nil
}

// pending restricts a query to open invitations.
func (s *Store) pending(ctx context.Context) *gorm.DB {
	return s.db.WithContext(ctx).Where("accepted_at IS NULL AND declined_at IS NULL AND expires_at > ?", s.Now())
}

// TeamInvitations lists a team's open invitations, newest first.
func (s *Store) TeamInvitations(ctx context.Context, teamID string) ([]Invitation, error) {
	var out []Invitation
	if err := s.pending(ctx).Where("team_id = ?", teamID).Order("id DESC").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("invitations of team %s: %w", teamID, err)
	}
	return out, nil
}

// InvitationsFor lists the open invitations to email, newest first.
func (s *Store) InvitationsFor(ctx context.Context, email string) ([]Invitation, error) {
	var out []Invitation
	if err := s.pending(ctx).Where("email = ?", NormalizeEmail(email)).Order("id DESC").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("invitations for a user: %w", err)
	}
	return out, nil
}

// RevokeInvitation deletes an open invitation of teamID (ErrNotFound when there is none).
func (s *Store) RevokeInvitation(ctx context.Context, teamID, id string) error {
	res := s.pending(ctx).Where("team_id = ? AND id = ?", teamID, id).Delete(&Invitation{})
	if res.Error != nil {
		return fmt.Errorf("revoke invitation %s: %w", id, res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("revoke invitation %s: %w", id, ErrNotFound)
	}
	return nil
}

// AnswerInvitation accepts (creating the membership) or declines the open invitation id made to
// user u. Another user's invitation is ErrNotFound; a closed one ErrInvitationClosed; accepting
// while already a member is ErrConflict.
func (s *Store) AnswerInvitation(ctx context.Context, u *User, id string, accept bool) (*Invitation, error) {
	var inv Invitation
	err := s.Tx(ctx, func(tx *Store) error {
		if err := translate(tx.db.WithContext(ctx).Take(&inv, "id = ? AND email = ?", id, NormalizeEmail(u.Email)).Error); err != nil {
			return err
		}
		now := tx.Now()
		column := "declined_at"
		if accept {
			column = "accepted_at"
		}
		res := tx.pending(ctx).Model(&Invitation{}).Where("id = ?", id).Update(column, now)
		switch {
		case res.Error != nil:
			return res.Error
		case res.RowsAffected == 0:
			return ErrInvitationClosed
		}
		if !accept {
			return nil
		}
		_, err := tx.AddMember(ctx, inv.TeamID, u.ID, inv.Role)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("answer invitation %s: %w", id, err)
	}
	return &inv, nil
}
