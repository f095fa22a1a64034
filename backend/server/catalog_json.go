package server

import (
	"time"

	"github.com/talos-gs/talos/backend/catalog"
	"github.com/talos-gs/talos/backend/store"
)

// spacecraftJSON is a spacecraft as the catalog API shows it.
type spacecraftJSON struct {
	ID string `json:"id"`
	// TeamID is the owning team; null for the global catalog.
	TeamID  *string `json:"team_id"`
	Global  bool    `json:"global"`
	NORADID int     `json:"norad_id"`
	// NORAD is the catalog number as a TLE writes it (Alpha-5 from 100000 to 339999).
	NORAD          string          `json:"norad"`
	Name           string          `json:"name"`
	IntlDesignator string          `json:"intl_designator"`
	ElementSet     *currentSetJSON `json:"element_set"`
	CreatedAt      time.Time       `json:"created_at"`
	UpdatedAt      time.Time       `json:"updated_at"`
}

// currentSetJSON summarises the current element set: its age at the time of the answer and
// whether that passes the stale threshold of its orbit.
type currentSetJSON struct {
	ID         string    `json:"id"`
	Epoch      time.Time `json:"epoch"`
	AgeSeconds int64     `json:"age_seconds"`
	Stale      bool      `json:"stale"`
}

func (s *Server) toSpacecraftJSON(sc *store.Spacecraft, now time.Time) spacecraftJSON {
	out := spacecraftJSON{ID: sc.ID, TeamID: sc.TeamID, Global: sc.Global(), NORADID: sc.NORADID,
		NORAD: catalog.FormatNORAD(sc.NORADID), Name: sc.Name, IntlDesignator: sc.IntlDesignator,
		CreatedAt: sc.CreatedAt.UTC(), UpdatedAt: sc.UpdatedAt.UTC()}
	if sc.CurrentSetID != nil && sc.CurrentEpoch != nil {
		mm := 0.0
		if sc.CurrentMeanMotion != nil {
			mm = *sc.CurrentMeanMotion
		}
		out.ElementSet = &currentSetJSON{ID: *sc.CurrentSetID, Epoch: sc.CurrentEpoch.UTC(),
			AgeSeconds: int64(now.Sub(*sc.CurrentEpoch).Seconds()),
			Stale:      catalog.IsStale(s.catalog.Thresholds(), *sc.CurrentEpoch, mm, now)}
	}
	return out
}

// elementSetJSON is one set of a spacecraft's history, with its text as it arrived.
type elementSetJSON struct {
	ID         string    `json:"id"`
	Format     string    `json:"format"`
	Source     string    `json:"source"`
	Epoch      time.Time `json:"epoch"`
	ReceivedAt time.Time `json:"received_at"`
	AgeSeconds int64     `json:"age_seconds"`
	Current    bool      `json:"current"`
	Stale      bool      `json:"stale"`
	Raw        string    `json:"raw"`
}

func (s *Server) toElementSetJSON(es *store.ElementSet, current bool, now time.Time) elementSetJSON {
	return elementSetJSON{ID: es.ID, Format: es.Format, Source: es.Source, Epoch: es.Epoch.UTC(),
		ReceivedAt: es.ReceivedAt.UTC(), AgeSeconds: int64(now.Sub(es.Epoch).Seconds()), Current: current,
		Stale: current && catalog.IsStale(s.catalog.Thresholds(), es.Epoch, es.MeanMotion, now), Raw: es.Raw}
}

// transmitterJSON is a transmitter with SatNOGS DB's field names.
type transmitterJSON struct {
	ID           string    `json:"id"`
	UUID         string    `json:"uuid"`
	Description  string    `json:"description"`
	Type         string    `json:"type"`
	Alive        bool      `json:"alive"`
	Status       string    `json:"status"`
	UplinkLow    *int64    `json:"uplink_low"`
	UplinkHigh   *int64    `json:"uplink_high"`
	DownlinkLow  *int64    `json:"downlink_low"`
	DownlinkHigh *int64    `json:"downlink_high"`
	Mode         string    `json:"mode"`
	Baud         *float64  `json:"baud"`
	Invert       bool      `json:"invert"`
	Source       string    `json:"source"`
	UpdatedAt    time.Time `json:"updated_at"`
}

func toTransmitterJSON(t *store.Transmitter) transmitterJSON {
	return transmitterJSON{ID: t.ID, UUID: t.ExternalID, Description: t.Description, Type: t.Type,
		Alive: t.Alive, Status: t.Status, UplinkLow: t.UplinkLow, UplinkHigh: t.UplinkHigh,
		DownlinkLow: t.DownlinkLow, DownlinkHigh: t.DownlinkHigh, Mode: t.Mode, Baud: t.Baud,
		Invert: t.Invert, Source: t.Source, UpdatedAt: t.UpdatedAt.UTC()}
}

// sourceJSON is a scheduled catalog source and the state of its fetches.
type sourceJSON struct {
	ID              string     `json:"id"`
	TeamID          *string    `json:"team_id"`
	Name            string     `json:"name"`
	URL             string     `json:"url"`
	Format          string     `json:"format"`
	IntervalSeconds int        `json:"interval_seconds"`
	NextFetchAt     time.Time  `json:"next_fetch_at"`
	LastFetchAt     *time.Time `json:"last_fetch_at"`
	LastSuccessAt   *time.Time `json:"last_success_at"`
	LastStatus      string     `json:"last_status"`
	LastError       string     `json:"last_error"`
	CreatedAt       time.Time  `json:"created_at"`
}

func toSourceJSON(src *store.CatalogSource) sourceJSON {
	return sourceJSON{ID: src.ID, TeamID: src.TeamID, Name: src.Name, URL: src.URL, Format: src.Format,
		IntervalSeconds: src.IntervalSeconds, NextFetchAt: src.NextFetchAt.UTC(), LastFetchAt: utcPtr(src.LastFetchAt),
		LastSuccessAt: utcPtr(src.LastSuccessAt), LastStatus: src.LastStatus, LastError: src.LastError,
		CreatedAt: src.CreatedAt.UTC()}
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// catalogEventJSON is one catalog event.
type catalogEventJSON struct {
	ID           string    `json:"id"`
	At           time.Time `json:"at"`
	Global       bool      `json:"global"`
	Type         string    `json:"type"`
	Severity     string    `json:"severity"`
	SpacecraftID string    `json:"spacecraft_id,omitempty"`
	NORADID      int       `json:"norad_id,omitempty"`
	SourceID     string    `json:"source_id,omitempty"`
	Message      string    `json:"message"`
}

func toCatalogEventJSON(e *store.CatalogEvent) catalogEventJSON {
	return catalogEventJSON{ID: e.ID, At: e.At.UTC(), Global: e.TeamID == "", Type: e.Type, Severity: e.Severity,
		SpacecraftID: e.SpacecraftID, NORADID: e.NORADID, SourceID: e.SourceID, Message: e.Message}
}
