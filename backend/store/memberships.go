package store

import (
	"context"
	"errors"
	"fmt"

	"gorm.io/gorm/clause"
)

// MembershipOf returns userID's membership of teamID, or ErrNotFound when there is none.
func (s *Store) MembershipOf(ctx context.Context, teamID, userID string) (*Membership, error) {
	var m Membership
	err := translate(s.db.WithContext(ctx).Take(&m, "team_id = ? AND user_id = ?", teamID, userID).Error)
	if err != nil {
		return nil, fmt.Errorf("membership of %s in %s: %w", userID, teamID, err)
	}
	return &m, nil
}

// Members lists a team's members by email.
func (s *Store) Members(ctx context.Context, teamID string) ([]Member, error) {
	var out []Member
	err := s.db.WithContext(ctx).Table("memberships").
		Select("users.id AS user_id, users.email, users.display_name, memberships.role, memberships.created_at").
		Joins("JOIN users ON users.id = memberships.user_id").
		Where("memberships.team_id = ?", teamID).Order("users.email").Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("members of %s: %w", teamID, err)
	}
	return out, nil
}

// AddMember adds userID to teamID with role; an existing membership is ErrConflict.
func (s *Store) AddMember(ctx context.Context, teamID, userID string, role Role) (*Membership, error) {
	m := &Membership{TeamID: teamID, UserID: userID, Role: role, CreatedAt: s.Now()}
	if err := translate(s.db.WithContext(ctx).Create(m).Error); err != nil {
		return nil, fmt.Errorf("add %s to team %s: %w", userID, teamID, err)
	}
	return m, nil
}

// SetMemberRole changes a member's role. Demoting the last owner is ErrLastOwner.
func (s *Store) SetMemberRole(ctx context.Context, teamID, userID string, role Role) error {
	err := s.Tx(ctx, func(tx *Store) error {
		m, err := tx.MembershipOf(ctx, teamID, userID)
		if err != nil {
			return err
		}
		if m.Role == RoleOwner && role != RoleOwner {
			if err := tx.keepAnOwner(ctx, teamID); err != nil {
				return err
			}
		}
		return tx.db.WithContext(ctx).Model(&Membership{}).
			Where("team_id = ? AND user_id = ?", teamID, userID).Update("role", role).Error
	})
	if err != nil {
		return fmt.Errorf("set role of %s in %s: %w", userID, teamID, err)
	}
	return nil
}

// RemoveMember removes userID from teamID. Removing the last owner is ErrLastOwner.
func (s *Store) RemoveMember(ctx context.Context, teamID, userID string) error {
	err := s.Tx(ctx, func(tx *Store) error {
		m, err := tx.MembershipOf(ctx, teamID, userID)
		if err != nil {
			return err
		}
		if m.Role == RoleOwner {
			if err := tx.keepAnOwner(ctx, teamID); err != nil {
				return err
			}
		}
		return tx.db.WithContext(ctx).Delete(&Membership{}, "team_id = ? AND user_id = ?", teamID, userID).Error
	})
	if err != nil {
		return fmt.Errorf("remove %s from %s: %w", userID, teamID, err)
	}
	return nil
}

// lockTeam serialises membership changes of one team on PostgreSQL, so two concurrent demotions
// cannot both see a second owner. SQLite needs nothing: its write transactions are serial.
func (s *Store) lockTeam(ctx context.Context, teamID string) error {
	if s.dialect != Postgres {
		return nil
	}
	var t Team
	err := s.db.WithContext(ctx).Clauses(clause.Locking{Strength: "UPDATE"}).Take(&t, "id = ?", teamID).Error
	return translate(err)
}

// keepAnOwner fails with ErrLastOwner unless the team has at least two owners, i.e. one would
// remain after the caller demotes or removes one. Runs inside the caller's transaction.
func (s *Store) keepAnOwner(ctx context.Context, teamID string) error {
	if err := s.lockTeam(ctx, teamID); err != nil {
		return err
	}
	var owners int64
	err := s.db.WithContext(ctx).Model(&Membership{}).
		Where("team_id = ? AND role = ?", teamID, RoleOwner).Count(&owners).Error
	if err != nil {
		return fmt.Errorf("count owners: %w", err)
	}
	if owners < 2 {
		return ErrLastOwner
	}
	return nil
}

// IsNotFound is a shorthand for errors.Is(err, ErrNotFound).
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }
