package schedule

import (
	"fmt"
	"time"
)

// Busy says whether the station is, or within margin will be, running an observation (its
// prepare lead included): a non-empty reason naming it, and when it ends. A self-update waits
// for it (satellite/update); a store that cannot be read counts as busy, to be safe.
func (s *Scheduler) Busy(now time.Time, margin time.Duration) (string, time.Time) {
	recs, err := s.store.All()
	if err != nil {
		return "the observation store cannot be read: " + err.Error(), now.Add(time.Minute)
	}
	for _, rec := range recs {
		p := rec.Payload
		if !now.Before(p.LOS) {
			continue // missed or done: the scheduler drops it
		}
		start := p.AOS.Add(-s.prepare)
		switch {
		case !now.Before(start):
			return fmt.Sprintf("observation %s (NORAD %d) runs until %s", p.ObservationID, p.NoradID,
				p.LOS.UTC().Format(time.RFC3339)), p.LOS
		case !now.Before(start.Add(-margin)):
			return fmt.Sprintf("observation %s (NORAD %d) starts at %s, within the %s margin", p.ObservationID, p.NoradID,
				start.UTC().Format(time.RFC3339), margin), p.LOS
		}
		return "", time.Time{} // the earliest is far enough away
	}
	return "", time.Time{}
}
