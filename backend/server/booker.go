package server

import (
	"context"
	"time"

	"github.com/talos-gs/talos/backend/autosched"
	"github.com/talos-gs/talos/backend/observations"
)

// observationBooker lets the auto-scheduler book through the observations service, under the
// same rules as a user's booking (autosched.Booker).
type observationBooker struct{ obs *observations.Service }

// Busy lists the observations holding a station's time, with where the antenna points at
// their AOS and LOS.
func (b observationBooker) Busy(ctx context.Context, satelliteID string, from, to time.Time) ([]autosched.Booking, error) {
	booked, err := b.obs.Busy(ctx, satelliteID, from, to)
	if err != nil {
		return nil, err
	}
	out := make([]autosched.Booking, len(booked))
	for i, o := range booked {
		out[i] = autosched.Booking{ID: o.ObservationID, TeamID: o.TeamID, AOS: o.AOS, LOS: o.LOS,
			Start: autosched.Pointing{AzimuthDeg: o.AOSPointing.AzDeg, ElevationDeg: o.AOSPointing.ElDeg},
			End:   autosched.Pointing{AzimuthDeg: o.LOSPointing.AzDeg, ElevationDeg: o.LOSPointing.ElDeg}}
	}
	return out, nil
}

// Book books one chosen pass as the auto-scheduler's.
func (b observationBooker) Book(ctx context.Context, c autosched.Choice) error {
	_, err := b.obs.Schedule(ctx, observations.ScheduleInput{TeamID: c.TeamID, SatelliteID: c.StationID, NORAD: c.NORAD,
		AOS: c.Pass.AOS, LOS: c.Pass.LOS, TransmitterID: c.TransmitterID, Decoder: c.Decoder, CreatedBy: "autosched",
		MinElevationDeg: c.MinElevationDeg, Source: observations.SourceAuto})
	return err
}
