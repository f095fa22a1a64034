package store

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Team is an organisation that owns stations, spacecraft lists and observations.
type Team struct {
	ID        string `gorm:"primaryKey"`
	Name      string
	Slug      string // unique, URL-safe, derived from the name at creation
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Role is a user's role in a team.
type Role string

// Roles, from most to least powerful (see docs/api-users.md for the permission table).
const (
	RoleOwner  Role = "owner"
	RoleAdmin  Role = "admin"
	RoleMember Role = "member"
	RoleViewer Role = "viewer"
)

// rank orders roles: higher is more powerful; 0 is unknown.
func (r Role) rank() int {
	switch r {
	case RoleOwner:
		return 4
	case RoleAdmin:
		return 3
	case RoleMember:
		return 2
	case RoleViewer:
		return 1
	}
	return 0
}

// Valid reports whether r is one of the four roles.
func (r Role) Valid() bool { return r.rank() > 0 }

// AtLeast reports whether r grants everything min grants.
func (r Role) AtLeast(min Role) bool { return r.Valid() && r.rank() >= min.rank() }

// Membership ties a user to a team with a role.
type Membership struct {
	TeamID    string `gorm:"primaryKey"`
	UserID    string `gorm:"primaryKey"`
	Role      Role
	CreatedAt time.Time
}

// Member is a membership joined with the user's public fields.
type Member struct {
	UserID      string
	Email       string
	DisplayName string
	Role        Role
	CreatedAt   time.Time
}

// ErrLastOwner is returned when a change would leave a team without an owner.
var ErrLastOwner = errors.New("a team must keep at least one owner")

var slugJunk = regexp.MustCompile(`[^a-z0-9]+`)

// Slugify derives the URL-safe base of a team slug from its name.
func Slugify(name string) string {
	s := strings.Trim(slugJunk.ReplaceAllString(strings.ToLower(name), "-"), "-")
	if len(s) > 40 {
		s = strings.TrimRight(s[:40], "-")
	}
	if s == "" {
		s = "team"
	}
	return s
}

// CreateTeam inserts a team with a unique slug and, when ownerID is set, its first owner.
// Concurrent creations may race for the same slug; the loser retries with the next free one,
// and after a few lost races with a random suffix.
func (s *Store) CreateTeam(ctx context.Context, name, ownerID string) (*Team, error) {
	var err error
	for attempt := range 8 {
		var t *Team
		t, err = s.createTeam(ctx, name, ownerID, attempt >= 3)
		if err == nil {
			return t, nil
		}
		if !errors.Is(err, ErrConflict) {
			break
		}
	}
	return nil, fmt.Errorf("create team %q: %w", name, err)
}

func (s *Store) createTeam(ctx context.Context, name, ownerID string, randomSuffix bool) (*Team, error) {
	now := s.Now()
	t := &Team{ID: NewID(), Name: name, CreatedAt: now, UpdatedAt: now}
	err := s.Tx(ctx, func(tx *Store) error {
		base := Slugify(name)
		if randomSuffix {
			base += "-" + t.ID[len(t.ID)-6:]
		}
		slug, err := tx.freeSlug(ctx, base)
		if err != nil {
			return err
		}
		t.Slug = slug
		if err := translate(tx.db.WithContext(ctx).Create(t).Error); err != nil {
			return err
		}
		if ownerID == "" {
			return nil
		}
		m := &Membership{TeamID: t.ID, UserID: ownerID, Role: RoleOwner, CreatedAt: now}
		return translate(tx.db.WithContext(ctx).Create(m).Error)
	})
	return t, err
}

// freeSlug returns base, or base-2, base-3, ... whichever is not taken yet.
func (s *Store) freeSlug(ctx context.Context, base string) (string, error) {
	var taken []string
	err := s.db.WithContext(ctx).Model(&Team{}).
		Where("slug = ? OR slug LIKE ?", base, base+"-%").Pluck("slug", &taken).Error
	if err != nil {
		return "", fmt.Errorf("find free slug: %w", err)
	}
	set := make(map[string]bool, len(taken))
	for _, t := range taken {
		set[t] = true
	}
	slug := base
	for i := 2; set[slug]; i++ {
		slug = fmt.Sprintf("%s-%d", base, i)
	}
	return slug, nil
}

// TeamByID returns one team or ErrNotFound.
func (s *Store) TeamByID(ctx context.Context, id string) (*Team, error) {
	var t Team
	if err := translate(s.db.WithContext(ctx).Take(&t, "id = ?", id).Error); err != nil {
		return nil, fmt.Errorf("team %s: %w", id, err)
	}
	return &t, nil
}

// TeamWithRole is a team together with the caller's role in it.
type TeamWithRole struct {
	Team
	Role Role
}

// TeamsOfUser lists the teams userID belongs to, with the user's role, by name.
func (s *Store) TeamsOfUser(ctx context.Context, userID string) ([]TeamWithRole, error) {
	var out []TeamWithRole
	err := s.db.WithContext(ctx).Table("teams").
		Select("teams.*, memberships.role AS role").
		Joins("JOIN memberships ON memberships.team_id = teams.id").
		Where("memberships.user_id = ?", userID).Order("teams.name, teams.id").Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("teams of user %s: %w", userID, err)
	}
	return out, nil
}

// ListTeams lists every team by name (for global administrators).
func (s *Store) ListTeams(ctx context.Context) ([]Team, error) {
	var out []Team
	if err := s.db.WithContext(ctx).Order("name, id").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list teams: %w", err)
	}
	return out, nil
}

// RenameTeam changes a team's display name; the slug stays, so links keep working.
func (s *Store) RenameTeam(ctx context.Context, id, name string) (*Team, error) {
	res := s.db.WithContext(ctx).Model(&Team{}).Where("id = ?", id).
		Updates(map[string]any{"name": name, "updated_at": s.Now()})
	if res.Error != nil {
		return nil, fmt.Errorf("rename team %s: %w", id, res.Error)
	}
	if res.RowsAffected == 0 {
		return nil, fmt.Errorf("rename team %s: %w", id, ErrNotFound)
	}
	return s.TeamByID(ctx, id)
}

// DeleteTeam removes a team; memberships (and, through foreign keys, everything the team owns)
// go with it.
func (s *Store) DeleteTeam(ctx context.Context, id string) error {
	res := s.db.WithContext(ctx).Delete(&Team{}, "id = ?", id)
	if res.Error != nil {
		return fmt.Errorf("delete team %s: %w", id, res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("delete team %s: %w", id, ErrNotFound)
	}
	return nil
}
