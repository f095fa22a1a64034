package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Spacecraft is an orbiting object of the catalog. TeamID nil is the global catalog, seen by
// every team; otherwise only that team sees it. The Current* fields describe the current
// element set: the accepted set with the newest epoch.
type Spacecraft struct {
	ID                string  `gorm:"primaryKey"`
	TeamID            *string `gorm:"column:team_id"`
	NORADID           int     `gorm:"column:norad_id"`
	Name              string
	IntlDesignator    string     `gorm:"column:intl_designator"`
	CurrentSetID      *string    `gorm:"column:current_set_id"`
	CurrentEpoch      *time.Time `gorm:"column:current_epoch"`
	CurrentMeanMotion *float64   `gorm:"column:current_mean_motion"`
	StaleWarnedAt     *time.Time `gorm:"column:stale_warned_at"`
	CreatedAt         time.Time
	UpdatedAt         time.Time
}

// TableName is the catalog's table.
func (Spacecraft) TableName() string { return "spacecraft" }

// Global reports whether the spacecraft belongs to the global catalog.
func (sc *Spacecraft) Global() bool { return sc.TeamID == nil }

// ElementSet is one stored element set: Raw is the record as it arrived (Format "tle": an
// optional name line and the two lines; "omm-json": one OMM JSON object; "omm-kvn": one KVN
// message), parsed again with orbit whenever it is used.
type ElementSet struct {
	ID           string `gorm:"primaryKey"`
	SpacecraftID string `gorm:"column:spacecraft_id"`
	Format       string
	Source       string
	Epoch        time.Time
	ReceivedAt   time.Time
	MeanMotion   float64
	Raw          string
}

// TableName is the history's table.
func (ElementSet) TableName() string { return "element_sets" }

// teamRef turns the catalog's "" = global convention into the nullable column value.
func teamRef(teamID string) *string {
	if teamID == "" {
		return nil
	}
	return &teamID
}

// ownedBy restricts a query to the spacecraft (or sources) owned by teamID; "" is the global
// catalog. Used for writes, which never reach across owners.
func ownedBy(db *gorm.DB, teamID string) *gorm.DB {
	if teamID == "" {
		return db.Where("team_id IS NULL")
	}
	return db.Where("team_id = ?", teamID)
}

// visibleTo restricts a query to what teamID may read: the global catalog and its own.
func visibleTo(db *gorm.DB, teamID string) *gorm.DB {
	return db.Where("(team_id IS NULL OR team_id = ?)", teamID)
}

// NewElementSet is a parsed element set on its way into the catalog.
type NewElementSet struct {
	NORADID        int
	Name           string
	IntlDesignator string
	Format         string
	Epoch          time.Time
	MeanMotion     float64
	Raw            string
}

// SetOutcome says what ApplyElementSets did with one set.
type SetOutcome struct {
	SpacecraftID string
	// CreatedSpacecraft: the NORAD id was new to the owner's catalog.
	CreatedSpacecraft bool
	// Accepted: the set's epoch was newer than the current one; it is now current. Otherwise
	// the set was refused (an epoch equal to or older than the current set's) and not stored.
	Accepted bool
}

// ApplyElementSets stores sets into teamID's catalog ("" = global) in one transaction: a NORAD
// id new to that catalog creates its spacecraft; a set becomes current, and joins the history,
// only when its epoch is newer than the current set's (one conditional UPDATE decides, so
// concurrent imports on several replicas cannot make an older set current). Name and designator
// of an existing spacecraft are updated when a set carries them.
//
// New spacecraft and the accepted sets are written with multi-row INSERTs: a first import of a
// catalog costs two statements per chunk instead of three per set.
func (s *Store) ApplyElementSets(ctx context.Context, teamID, source string, sets []NewElementSet) ([]SetOutcome, error) {
	out := make([]SetOutcome, len(sets))
	err := s.Tx(ctx, func(tx *Store) error {
		known, err := tx.spacecraftByNORAD(ctx, teamID, setNORADs(sets))
		if err != nil {
			return err
		}
		b := &setBatch{tx: tx, teamID: teamID, source: source, now: tx.Now(), known: known}
		for i := range sets {
			if out[i], err = b.apply(ctx, &sets[i]); err != nil {
				return fmt.Errorf("norad %d: %w", sets[i].NORADID, err)
			}
		}
		return b.flush(ctx)
	})
	if err != nil {
		return nil, fmt.Errorf("apply element sets: %w", err)
	}
	return out, nil
}

func setNORADs(sets []NewElementSet) []int {
	ids := make([]int, len(sets))
	for i, es := range sets {
		ids[i] = es.NORADID
	}
	return ids
}

// spacecraftByNORAD loads the owner's spacecraft with the given NORAD ids, keyed by NORAD id.
func (s *Store) spacecraftByNORAD(ctx context.Context, teamID string, ids []int) (map[int]*Spacecraft, error) {
	known := make(map[int]*Spacecraft, len(ids))
	const chunk = 500 // stays far below either engine's bound-parameter limit
	for start := 0; start < len(ids); start += chunk {
		var rows []Spacecraft
		db := ownedBy(s.db.WithContext(ctx), teamID).Where("norad_id IN ?", ids[start:min(start+chunk, len(ids))])
		if err := db.Find(&rows).Error; err != nil {
			return nil, fmt.Errorf("load spacecraft: %w", err)
		}
		for i := range rows {
			known[rows[i].NORADID] = &rows[i]
		}
	}
	return known, nil
}

// setBatch collects the rows of one ApplyElementSets transaction.
type setBatch struct {
	tx             *Store
	teamID, source string
	now            time.Time
	known          map[int]*Spacecraft
	// created are spacecraft new in this batch, not yet inserted; sets are accepted sets.
	created []*Spacecraft
	sets    []ElementSet
}

func (b *setBatch) apply(ctx context.Context, es *NewElementSet) (SetOutcome, error) {
	epoch := es.Epoch.UTC().Truncate(time.Microsecond)
	setID := NewID()
	row := ElementSet{ID: setID, Format: es.Format, Source: b.source, Epoch: epoch,
		ReceivedAt: b.now, MeanMotion: es.MeanMotion, Raw: es.Raw}
	sc := b.known[es.NORADID]
	if sc == nil {
		// New to this catalog: the set is current at once, in the same INSERT.
		mm := es.MeanMotion
		sc = &Spacecraft{ID: NewID(), TeamID: teamRef(b.teamID), NORADID: es.NORADID, Name: es.Name,
			IntlDesignator: es.IntlDesignator, CurrentSetID: &setID, CurrentEpoch: &epoch,
			CurrentMeanMotion: &mm, CreatedAt: b.now, UpdatedAt: b.now}
		b.known[es.NORADID], b.created = sc, append(b.created, sc)
		row.SpacecraftID = sc.ID
		b.sets = append(b.sets, row)
		return SetOutcome{SpacecraftID: sc.ID, CreatedSpacecraft: true, Accepted: true}, nil
	}
	o := SetOutcome{SpacecraftID: sc.ID}
	if sc.CurrentEpoch != nil && !epoch.After(*sc.CurrentEpoch) {
		return o, nil // not newer than what this transaction already knows: refused
	}
	if err := b.flushCreated(ctx); err != nil { // the UPDATE below may need the row
		return o, err
	}
	updates := map[string]any{"current_set_id": setID, "current_epoch": epoch,
		"current_mean_motion": es.MeanMotion, "stale_warned_at": nil, "updated_at": b.now}
	if es.Name != "" {
		updates["name"] = es.Name
	}
	if es.IntlDesignator != "" {
		updates["intl_designator"] = es.IntlDesignator
	}
	res := b.tx.db.WithContext(ctx).Model(&Spacecraft{}).
		Where("id = ? AND (current_epoch IS NULL OR current_epoch < ?)", sc.ID, epoch).Updates(updates)
	if res.Error != nil {
		return o, fmt.Errorf("make set current: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return o, nil // another import made a newer set current meanwhile: refused
	}
	sc.CurrentEpoch, sc.CurrentSetID = &epoch, &setID
	row.SpacecraftID = sc.ID
	b.sets = append(b.sets, row)
	o.Accepted = true
	return o, nil
}

// insertBatch is the rows per multi-row INSERT: 12 columns each stays below SQLite's and
// PostgreSQL's bound-parameter limits.
const insertBatch = 200

func (b *setBatch) flushCreated(ctx context.Context) error {
	if len(b.created) == 0 {
		return nil
	}
	if err := translate(b.tx.db.WithContext(ctx).CreateInBatches(b.created, insertBatch).Error); err != nil {
		return fmt.Errorf("create spacecraft: %w", err)
	}
	b.created = b.created[:0]
	return nil
}

func (b *setBatch) flush(ctx context.Context) error {
	if err := b.flushCreated(ctx); err != nil {
		return err
	}
	if len(b.sets) == 0 {
		return nil
	}
	if err := translate(b.tx.db.WithContext(ctx).CreateInBatches(b.sets, insertBatch).Error); err != nil {
		return fmt.Errorf("store element sets: %w", err)
	}
	return nil
}

// SpacecraftQuery selects spacecraft a team can see.
type SpacecraftQuery struct {
	// Search matches the name or designator (case-insensitive substring) or the NORAD id.
	Search string
	// IDs and NORADIDs, when not empty, keep only those spacecraft (both may be given: either
	// matches).
	IDs      []string
	NORADIDs []int
	// OnlyOwn keeps only the team's own spacecraft.
	OnlyOwn bool
	// AfterNORAD pages: only NORAD ids above it (the listing is ordered by NORAD id).
	AfterNORAD int
	// Limit caps the result (0: no cap).
	Limit int
}

// VisibleSpacecraft lists the spacecraft teamID can see (the global catalog and its own),
// ordered by NORAD id, then team-owned before global.
func (s *Store) VisibleSpacecraft(ctx context.Context, teamID string, q SpacecraftQuery) ([]Spacecraft, error) {
	db := visibleTo(s.db.WithContext(ctx), teamID).Order("norad_id, team_id IS NULL, id")
	if q.OnlyOwn {
		db = db.Where("team_id = ?", teamID)
	}
	if q.Search != "" {
		db = searchSpacecraft(db, q.Search)
	}
	switch {
	case len(q.IDs) > 0 && len(q.NORADIDs) > 0:
		db = db.Where("(id IN ? OR norad_id IN ?)", q.IDs, q.NORADIDs)
	case len(q.IDs) > 0:
		db = db.Where("id IN ?", q.IDs)
	case len(q.NORADIDs) > 0:
		db = db.Where("norad_id IN ?", q.NORADIDs)
	}
	if q.AfterNORAD > 0 {
		db = db.Where("norad_id > ?", q.AfterNORAD)
	}
	if q.Limit > 0 {
		db = db.Limit(q.Limit)
	}
	var out []Spacecraft
	if err := db.Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list spacecraft of team %s: %w", teamID, err)
	}
	return out, nil
}

// searchSpacecraft matches a name or designator substring, case-insensitively on both engines
// (LOWER on both sides; LIKE metacharacters in the search are escaped).
func searchSpacecraft(db *gorm.DB, search string) *gorm.DB {
	pattern := "%" + likeEscaper.Replace(strings.ToLower(search)) + "%"
	cond := "(LOWER(name) LIKE ? ESCAPE '\\' OR LOWER(intl_designator) LIKE ? ESCAPE '\\'"
	args := []any{pattern, pattern}
	if n, err := parseDecimalID(search); err == nil {
		cond += " OR norad_id = ?"
		args = append(args, n)
	}
	return db.Where(cond+")", args...)
}

var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

func parseDecimalID(s string) (int, error) {
	n := 0
	if s == "" || len(s) > 9 {
		return 0, errors.New("not a number")
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, errors.New("not a number")
		}
		n = n*10 + int(c-'0')
	}
	return n, nil
}

// VisibleSpacecraftByID returns one spacecraft teamID can see, or ErrNotFound (also for
// another team's spacecraft).
func (s *Store) VisibleSpacecraftByID(ctx context.Context, teamID, id string) (*Spacecraft, error) {
	var sc Spacecraft
	err := translate(visibleTo(s.db.WithContext(ctx), teamID).Take(&sc, "id = ?", id).Error)
	if err != nil {
		return nil, fmt.Errorf("spacecraft %s: %w", id, err)
	}
	return &sc, nil
}

// CreateSpacecraft adds a spacecraft to teamID's catalog ("" = global) without an element set;
// a NORAD id the owner already has is ErrConflict.
func (s *Store) CreateSpacecraft(ctx context.Context, teamID string, noradID int, name, designator string) (*Spacecraft, error) {
	now := s.Now()
	sc := &Spacecraft{ID: NewID(), TeamID: teamRef(teamID), NORADID: noradID, Name: name,
		IntlDesignator: designator, CreatedAt: now, UpdatedAt: now}
	if err := translate(s.db.WithContext(ctx).Create(sc).Error); err != nil {
		return nil, fmt.Errorf("create spacecraft %d: %w", noradID, err)
	}
	return sc, nil
}

// UpdateSpacecraft renames a spacecraft owned by teamID ("" = global) or changes its
// designator; another owner's spacecraft is ErrNotFound.
func (s *Store) UpdateSpacecraft(ctx context.Context, teamID, id string, name, designator *string) (*Spacecraft, error) {
	updates := map[string]any{"updated_at": s.Now()}
	if name != nil {
		updates["name"] = *name
	}
	if designator != nil {
		updates["intl_designator"] = *designator
	}
	res := ownedBy(s.db.WithContext(ctx).Model(&Spacecraft{}), teamID).Where("id = ?", id).Updates(updates)
	if res.Error != nil {
		return nil, fmt.Errorf("update spacecraft %s: %w", id, res.Error)
	}
	if res.RowsAffected == 0 {
		return nil, fmt.Errorf("update spacecraft %s: %w", id, ErrNotFound)
	}
	var sc Spacecraft
	if err := translate(s.db.WithContext(ctx).Take(&sc, "id = ?", id).Error); err != nil {
		return nil, fmt.Errorf("spacecraft %s: %w", id, err)
	}
	return &sc, nil
}

// DeleteSpacecraft removes a spacecraft owned by teamID ("" = global) with its element sets and
// transmitters; another owner's spacecraft is ErrNotFound.
func (s *Store) DeleteSpacecraft(ctx context.Context, teamID, id string) error {
	res := ownedBy(s.db.WithContext(ctx), teamID).Delete(&Spacecraft{}, "id = ?", id)
	if res.Error != nil {
		return fmt.Errorf("delete spacecraft %s: %w", id, res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("delete spacecraft %s: %w", id, ErrNotFound)
	}
	return nil
}

// ElementSetHistory lists a spacecraft's element sets, newest epoch first, at most limit
// (at least 1), only those with an epoch before `before` when it is set. The caller has checked
// that the spacecraft is visible.
func (s *Store) ElementSetHistory(ctx context.Context, spacecraftID string, before *time.Time, limit int) ([]ElementSet, error) {
	db := s.db.WithContext(ctx).Where("spacecraft_id = ?", spacecraftID).Order("epoch DESC").Limit(max(limit, 1))
	if before != nil {
		db = db.Where("epoch < ?", before.UTC())
	}
	var out []ElementSet
	if err := db.Find(&out).Error; err != nil {
		return nil, fmt.Errorf("element sets of %s: %w", spacecraftID, err)
	}
	return out, nil
}

// CurrentSet is a spacecraft with its current element set.
type CurrentSet struct {
	Spacecraft Spacecraft
	Set        ElementSet
}

// CurrentElementSets returns the spacecraft teamID can see that have an element set, each with
// its current set, filtered by q (Search, IDs, NORADIDs, OnlyOwn; no paging). Ordered by NORAD
// id, team-owned before global.
func (s *Store) CurrentElementSets(ctx context.Context, teamID string, q SpacecraftQuery) ([]CurrentSet, error) {
	q.AfterNORAD, q.Limit = 0, 0
	crafts, err := s.VisibleSpacecraft(ctx, teamID, q)
	if err != nil {
		return nil, err
	}
	setIDs := make([]string, 0, len(crafts))
	for i := range crafts {
		if crafts[i].CurrentSetID != nil {
			setIDs = append(setIDs, *crafts[i].CurrentSetID)
		}
	}
	sets, err := s.elementSetsByID(ctx, setIDs)
	if err != nil {
		return nil, err
	}
	out := make([]CurrentSet, 0, len(setIDs))
	for i := range crafts {
		if id := crafts[i].CurrentSetID; id != nil {
			if set, ok := sets[*id]; ok {
				out = append(out, CurrentSet{Spacecraft: crafts[i], Set: set})
			}
		}
	}
	return out, nil
}

func (s *Store) elementSetsByID(ctx context.Context, ids []string) (map[string]ElementSet, error) {
	out := make(map[string]ElementSet, len(ids))
	const chunk = 500
	for start := 0; start < len(ids); start += chunk {
		var rows []ElementSet
		if err := s.db.WithContext(ctx).Where("id IN ?", ids[start:min(start+chunk, len(ids))]).Find(&rows).Error; err != nil {
			return nil, fmt.Errorf("load element sets: %w", err)
		}
		for _, r := range rows {
			out[r.ID] = r
		}
	}
	return out, nil
}
