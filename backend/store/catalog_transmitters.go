package store

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm/clause"
)

// Transmitter is a radio of a spacecraft, with SatNOGS DB's fields. Frequencies are in Hz, baud
// in symbols per second; a nil value is unknown (or, for uplink, none).
type Transmitter struct {
	ID           string `gorm:"primaryKey"`
	SpacecraftID string `gorm:"column:spacecraft_id"`
	// ExternalID is SatNOGS DB's uuid, or a new id for a transmitter entered by hand.
	ExternalID   string `gorm:"column:external_id"`
	Description  string
	Type         string
	Alive        bool
	Status       string
	UplinkLow    *int64
	UplinkHigh   *int64
	DownlinkLow  *int64
	DownlinkHigh *int64
	Mode         string
	Baud         *float64
	Invert       bool
	Source       string
	UpdatedAt    time.Time
}

// TableName is the transmitters' table.
func (Transmitter) TableName() string { return "transmitters" }

// TransmitterFor is a transmitter on its way into the catalog, naming its spacecraft by NORAD id.
type TransmitterFor struct {
	NORADID     int
	Transmitter Transmitter
}

// UpsertTransmitters stores transmitters into teamID's catalog ("" = global), each on the
// owner's spacecraft with its NORAD id, replacing the one with the same external id. It returns,
// per input, whether it was stored (false: no such spacecraft in that catalog).
func (s *Store) UpsertTransmitters(ctx context.Context, teamID, source string, txs []TransmitterFor) ([]bool, error) {
	stored := make([]bool, len(txs))
	err := s.Tx(ctx, func(tx *Store) error {
		ids := make([]int, len(txs))
		for i := range txs {
			ids[i] = txs[i].NORADID
		}
		known, err := tx.spacecraftByNORAD(ctx, teamID, ids)
		if err != nil {
			return err
		}
		now := tx.Now()
		for i := range txs {
			sc := known[txs[i].NORADID]
			if sc == nil {
				continue
			}
			t := txs[i].Transmitter
			t.ID, t.SpacecraftID, t.Source, t.UpdatedAt = NewID(), sc.ID, source, now
			if err := tx.upsertTransmitter(ctx, &t); err != nil {
				return err
			}
			stored[i] = true
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store transmitters: %w", err)
	}
	return stored, nil
}

func (s *Store) upsertTransmitter(ctx context.Context, t *Transmitter) error {
	err := s.db.WithContext(ctx).Clauses(clause.OnConflict{
		Columns: []clause.Column{{Name: "spacecraft_id"}, {Name: "external_id"}},
		DoUpdates: clause.AssignmentColumns([]string{"description", "type", "alive", "status",
			"uplink_low", "uplink_high", "downlink_low", "downlink_high", "mode", "baud", "invert",
			"source", "updated_at"}),
	}).Create(t).Error
	if err != nil {
		return fmt.Errorf("transmitter %s: %w", t.ExternalID, translate(err))
	}
	return nil
}

// CreateTransmitter adds a transmitter entered by hand to a spacecraft (the caller checked the
// spacecraft belongs to its team).
func (s *Store) CreateTransmitter(ctx context.Context, t *Transmitter) error {
	t.ID, t.UpdatedAt = NewID(), s.Now()
	if t.ExternalID == "" {
		t.ExternalID = t.ID
	}
	if err := translate(s.db.WithContext(ctx).Create(t).Error); err != nil {
		return fmt.Errorf("create transmitter: %w", err)
	}
	return nil
}

// Transmitters lists a spacecraft's transmitters, alive ones first, then by downlink.
func (s *Store) Transmitters(ctx context.Context, spacecraftID string) ([]Transmitter, error) {
	var out []Transmitter
	err := s.db.WithContext(ctx).Where("spacecraft_id = ?", spacecraftID).
		Order("alive DESC, downlink_low, id").Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("transmitters of %s: %w", spacecraftID, err)
	}
	return out, nil
}

// DeleteTransmitter removes one transmitter of a spacecraft, or answers ErrNotFound.
func (s *Store) DeleteTransmitter(ctx context.Context, spacecraftID, id string) error {
	res := s.db.WithContext(ctx).Delete(&Transmitter{}, "spacecraft_id = ? AND id = ?", spacecraftID, id)
	if res.Error != nil {
		return fmt.Errorf("delete transmitter %s: %w", id, res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("delete transmitter %s: %w", id, ErrNotFound)
	}
	return nil
}
