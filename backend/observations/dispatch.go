package observations

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/backend/catalog"
	"github.com/talos-gs/talos/backend/commands"
	"github.com/talos-gs/talos/backend/planner"
	"github.com/talos-gs/talos/backend/store"
)

// Re-dispatch thresholds: a newer element set that moves the pass less than this is not sent.
const (
	RedispatchTime = time.Second
	RedispatchDeg  = 0.1
)

// dispatcherName is the creator of the commands the job queues.
const dispatcherName = "observations"

// workBatch bounds the observations one step of a tick handles.
const workBatch = 500

// Run is the observation job of a replica: every Interval it runs Tick, until ctx ends. Every
// replica may run it: each observation is claimed by one (decision 0088).
func (s *Service) Run(ctx context.Context) error {
	t := time.NewTicker(s.set.Interval)
	defer t.Stop()
	for {
		if err := s.Tick(ctx); err != nil && ctx.Err() == nil {
			s.metrics.tickErrors.Inc()
			s.log.Error("observation job", zap.Error(err))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Tick does the job's work once: passes that ended undispatched are missed, due passes are
// dispatched (AOS order), dispatched passes a newer element set moved are sent again, passes
// the station stayed silent about are missed, and the success rates are refreshed.
func (s *Service) Tick(ctx context.Context) error {
	sets := map[string]*catalog.Tracked{}
	return errors.Join(s.missUnsent(ctx), s.dispatchDue(ctx, sets), s.redispatch(ctx, sets),
		s.judgeSilent(ctx), s.missSilent(ctx), s.refreshRates(ctx))
}

// VerdictWithin is how long after LOS an observation has a verdict even when the station has
// not reported yet: failed until the report, which replaces it.
const VerdictWithin = 60 * time.Second

// judgeSilent gives a failed verdict to live observations whose LOS is VerdictWithin past
// without a final report; the station's report, when it comes, judges them again.
func (s *Service) judgeSilent(ctx context.Context) error {
	now := s.now()
	states := []string{store.ObsDispatched, store.ObsPrepared, store.ObsRunning}
	obs, err := s.st.ObservationsInStates(ctx, states, time.Time{}, now.Add(-VerdictWithin), workBatch)
	if err != nil {
		return err
	}
	reasons, _ := json.Marshal([]string{fmt.Sprintf("no report from the station within %s of LOS (yet)", VerdictWithin)}) // a []string always marshals
	var errs []error
	for i := range obs {
		o := &obs[i]
		if o.Verdict != "" {
			continue
		}
		_, err := s.st.UpdateObservation(ctx, o.ID, store.ObservationUpdate{From: []string{o.State},
			Set: map[string]any{"verdict": VerdictFailed, "verdict_reasons": string(reasons), "verdict_at": now}})
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// missUnsent marks missed the scheduled observations whose pass has ended: nothing is sent.
func (s *Service) missUnsent(ctx context.Context) error {
	now := s.now()
	obs, err := s.st.ObservationsInStates(ctx, []string{store.ObsScheduled}, time.Time{}, now, workBatch)
	if err != nil {
		return err
	}
	for i := range obs {
		if err := s.miss(ctx, &obs[i], "the pass ended before it was dispatched (the station could not be reached in time)"); err != nil {
			return err
		}
	}
	return nil
}

// missSilent marks missed the observations the station never reported a result for within the
// grace period after LOS. A later report still moves them to completed or failed.
func (s *Service) missSilent(ctx context.Context) error {
	now := s.now()
	states := []string{store.ObsDispatched, store.ObsPrepared, store.ObsRunning}
	obs, err := s.st.ObservationsInStates(ctx, states, time.Time{}, now.Add(-s.set.MissedGrace), workBatch)
	if err != nil {
		return err
	}
	for i := range obs {
		reason := fmt.Sprintf("no report from the station within %s after LOS (last state %s)", s.set.MissedGrace, obs[i].State)
		if err := s.miss(ctx, &obs[i], reason); err != nil {
			return err
		}
	}
	return nil
}

func (s *Service) miss(ctx context.Context, o *store.Observation, reason string) error {
	now := s.now()
	reasons, _ := json.Marshal([]string{reason}) // a []string always marshals
	ok, err := s.st.UpdateObservation(ctx, o.ID, store.ObservationUpdate{From: []string{o.State}, To: store.ObsMissed,
		Reason: reason, Actor: dispatcherName, Set: map[string]any{"verdict": VerdictFailed, "verdict_reasons": string(reasons),
			"verdict_at": now, "claimed_until": nil}})
	if err != nil || !ok {
		return err
	}
	s.metrics.transitions.WithLabelValues(store.ObsMissed).Inc()
	s.metrics.verdicts.WithLabelValues(VerdictFailed).Inc()
	s.log.Warn("observation missed", zap.String("observation_id", o.ID), zap.String("satellite_id", o.SatelliteID),
		zap.Int("norad_id", o.NORADID), zap.String("reason", reason))
	return nil
}

// dispatchDue sends the scheduled observations whose AOS is within DispatchAhead, in AOS order.
func (s *Service) dispatchDue(ctx context.Context, sets map[string]*catalog.Tracked) error {
	now := s.now()
	obs, err := s.st.ObservationsInStates(ctx, []string{store.ObsScheduled}, now.Add(s.set.DispatchAhead), time.Time{}, workBatch)
	if err != nil {
		return err
	}
	var errs []error
	for i := range obs {
		o := &obs[i]
		if !o.LOS.After(now) {
			continue // missUnsent's, on the next tick
		}
		won, err := s.st.ClaimObservation(ctx, o.ID, store.ObsScheduled, now, now.Add(s.set.ClaimFor))
		if err != nil || !won {
			errs = append(errs, err)
			continue
		}
		errs = append(errs, s.dispatch(ctx, o, sets))
	}
	return errors.Join(errs...)
}

// dispatch sends a claimed scheduled observation with the spacecraft's current element set
// (re-planning the pass when the set changed since booking).
func (s *Service) dispatch(ctx context.Context, o *store.Observation, sets map[string]*catalog.Tracked) error {
	reason := "dispatched"
	cur, err := s.current(ctx, o, sets)
	if err != nil {
		return err
	}
	next := *o
	if cur != nil && cur.ElementSetID != o.ElementSetID {
		moved, why, err := s.replan(ctx, &next, cur)
		if err != nil {
			return err
		}
		if moved {
			reason = "dispatched with a newer element set: " + why
		}
	}
	return s.send(ctx, o, &next, store.ObsScheduled, reason)
}

// redispatch sends again the dispatched observations whose pass a newer element set moves by
// more than RedispatchTime or RedispatchDeg.
func (s *Service) redispatch(ctx context.Context, sets map[string]*catalog.Tracked) error {
	now := s.now()
	obs, err := s.st.ObservationsInStates(ctx, []string{store.ObsDispatched}, time.Time{}, time.Time{}, 0)
	if err != nil {
		return err
	}
	var errs []error
	for i := range obs {
		o := &obs[i]
		if refused, err := s.refusedByStation(ctx, o); refused || err != nil {
			errs = append(errs, err)
			continue
		}
		if !o.AOS.After(now) {
			continue
		}
		cur, err := s.current(ctx, o, sets)
		if err != nil || cur == nil || cur.ElementSetID == o.CheckedSetID {
			errs = append(errs, err)
			continue
		}
		won, err := s.st.ClaimObservation(ctx, o.ID, store.ObsDispatched, now, now.Add(s.set.ClaimFor))
		if err != nil || !won {
			errs = append(errs, err)
			continue
		}
		errs = append(errs, s.recheck(ctx, o, cur))
	}
	return errors.Join(errs...)
}

// refusedByStation fails a dispatched observation whose observation.schedule the station
// refused (it reports why: an allow-list, an overlap with an observation booked by hand).
func (s *Service) refusedByStation(ctx context.Context, o *store.Observation) (bool, error) {
	if o.CommandID == "" {
		return false, nil
	}
	cmd, err := s.st.CommandOf(ctx, o.SatelliteID, o.CommandID)
	if err != nil || cmd.Status != api.CommandFailed {
		return false, err
	}
	return true, s.fail(ctx, o, store.ObsDispatched, fmt.Errorf("the station refused observation.schedule: %s", cmd.Error))
}

// recheck compares a dispatched pass with a newer element set, and sends it again if it moved.
func (s *Service) recheck(ctx context.Context, o *store.Observation, cur *catalog.Tracked) error {
	next := *o
	moved, why, err := s.replan(ctx, &next, cur)
	if err != nil {
		return err
	}
	if moved {
		return s.send(ctx, o, &next, store.ObsDispatched, "re-dispatched: "+why)
	}
	_, err = s.st.UpdateObservation(ctx, o.ID, store.ObservationUpdate{From: []string{store.ObsDispatched},
		Set: map[string]any{"checked_set_id": next.CheckedSetID, "claimed_until": nil}})
	return err
}

// current is the spacecraft's current element set in the observation's team's catalog (nil:
// none any more), cached for one tick.
func (s *Service) current(ctx context.Context, o *store.Observation, sets map[string]*catalog.Tracked) (*catalog.Tracked, error) {
	key := fmt.Sprintf("%s/%d", o.TeamID, o.NORADID)
	if t, ok := sets[key]; ok {
		return t, nil
	}
	t, err := s.spacecraft(ctx, o.TeamID, o.NORADID)
	if err != nil {
		return nil, err
	}
	sets[key] = t
	return t, nil
}

// replan plans o's pass again with the element set of cur and, when the set can be sent and
// still shows the pass, writes the new pass and set into o. It reports whether the pass moved
// by more than the re-dispatch thresholds, and how.
func (s *Service) replan(ctx context.Context, o *store.Observation, cur *catalog.Tracked) (bool, string, error) {
	o.CheckedSetID = cur.ElementSetID
	es, err := s.st.ElementSetByID(ctx, cur.ElementSetID)
	if err != nil {
		return false, "", err
	}
	if _, err := payloadElementSet(es); err != nil {
		return false, "", nil //nolint:nilerr // a set that cannot be sent is not used; the old one stays
	}
	sat, err := s.st.SatelliteByID(ctx, o.SatelliteID)
	if err != nil {
		return false, "", err
	}
	passes, err := s.plan(ctx, sat, cur, o.AOS.Add(-passSearchMargin), o.LOS.Add(passSearchMargin), o.HorizonEl)
	if err != nil {
		return false, "", err
	}
	p := overlapping(passes, o.AOS, o.LOS)
	if p == nil {
		s.log.Warn("a newer element set shows no pass for a booked observation; keeping its set",
			zap.String("observation_id", o.ID), zap.String("element_set_id", cur.ElementSetID))
		return false, "", nil
	}
	why := movement(o, p)
	old := o.ElementSetID
	setPass(o, p, o.HorizonEl)
	o.ElementSetID, o.ElementSetEpoch = es.ID, es.Epoch
	if why == "" {
		return false, "", nil
	}
	return true, fmt.Sprintf("element set %s (epoch %s) replaces %s and %s", es.ID, es.Epoch.UTC().Format(time.RFC3339), old, why), nil
}

// overlapping is the pass overlapping [aos, los) the most, or nil.
func overlapping(passes []planner.Pass, aos, los time.Time) *planner.Pass {
	var best *planner.Pass
	var most time.Duration
	for i := range passes {
		p := &passes[i]
		ov := minTime(p.LOS, los).Sub(maxTime(p.AOS, aos))
		if ov > most {
			best, most = p, ov
		}
	}
	return best
}

// movement says how p differs from o's pass beyond the thresholds ("" when it does not).
func movement(o *store.Observation, p *planner.Pass) string {
	var parts []string
	if d := p.AOS.Sub(o.AOS); absDur(d) > RedispatchTime {
		parts = append(parts, fmt.Sprintf("moves AOS by %+.1f s", d.Seconds()))
	}
	if d := p.LOS.Sub(o.LOS); absDur(d) > RedispatchTime {
		parts = append(parts, fmt.Sprintf("moves LOS by %+.1f s", d.Seconds()))
	}
	if d := absDeg(p.AOSAzimuthDeg - o.AOSAz); d > RedispatchDeg {
		parts = append(parts, fmt.Sprintf("moves the AOS azimuth by %.2f°", d))
	}
	if d := absDeg(p.LOSAzimuthDeg - o.LOSAz); d > RedispatchDeg {
		parts = append(parts, fmt.Sprintf("moves the LOS azimuth by %.2f°", d))
	}
	if d := math.Abs(p.MaxElevationDeg - o.MaxEl); d > RedispatchDeg {
		parts = append(parts, fmt.Sprintf("changes the maximum elevation by %.2f°", d))
	}
	return strings.Join(parts, ", ")
}

// send queues observation.schedule for next (o as it is stored, claimed in state from) and
// records it: the station replaces a stored observation with the same id. A station that is
// offline gets it at high priority, so everything due arrives on its first poll; it expires at
// LOS, so an ended pass is never delivered.
func (s *Service) send(ctx context.Context, o, next *store.Observation, from, reason string) error {
	sat, err := s.st.SatelliteByID(ctx, o.SatelliteID)
	if err != nil {
		return err
	}
	payload, err := s.payload(ctx, next)
	if err != nil {
		return s.fail(ctx, o, from, err)
	}
	raw, err := json.Marshal(payload)
	if err != nil {
		return fmt.Errorf("encode observation %s: %w", o.ID, err)
	}
	prio := api.PriorityNormal
	if sat.Status == string(api.StatusOffline) {
		prio = api.PriorityHigh
	}
	now := s.now()
	cmd, err := s.cmds.Create(ctx, commands.CreateInput{SatelliteID: o.SatelliteID, Type: api.CommandObservationSchedule,
		Priority: prio, Payload: raw, ExpiresInSeconds: int(math.Ceil(next.LOS.Sub(now).Seconds())), CorrelationID: o.ID,
		CreatedBy: dispatcherName})
	var ce *commands.Error
	if errors.As(err, &ce) {
		return s.fail(ctx, o, from, err)
	}
	if err != nil {
		return fmt.Errorf("queue observation %s: %w", o.ID, err)
	}
	ok, err := s.st.UpdateObservation(ctx, o.ID, store.ObservationUpdate{From: []string{from}, To: store.ObsDispatched,
		Reason: reason + " (command " + cmd.ID + ")", Actor: dispatcherName, Note: true, Set: map[string]any{
			"command_id": cmd.ID, "dispatched_at": now, "claimed_until": nil,
			"aos": next.AOS, "tca": next.TCA, "los": next.LOS, "max_el": next.MaxEl, "aos_az": next.AOSAz, "los_az": next.LOSAz,
			"element_set_id": next.ElementSetID, "element_set_epoch": next.ElementSetEpoch, "checked_set_id": next.CheckedSetID}})
	if err == nil && !ok {
		return s.sentTooLate(ctx, o, cmd.ID)
	}
	if err == nil {
		s.metrics.dispatched.WithLabelValues(strings.Fields(reason)[0]).Inc()
		s.log.Info(reason, zap.String("observation_id", o.ID), zap.String("satellite_id", o.SatelliteID),
			zap.Int("norad_id", o.NORADID), zap.String("command_id", cmd.ID))
	}
	return err
}

// sentTooLate handles an observation that left the claimed state while its command was being
// queued: cancelled meanwhile, the station must forget it again.
func (s *Service) sentTooLate(ctx context.Context, o *store.Observation, commandID string) error {
	cur, err := s.st.TeamObservation(ctx, o.TeamID, o.ID)
	if err != nil || cur.State != store.ObsCancelled {
		return err
	}
	cur.CommandID = commandID
	return s.cancelOnStation(ctx, cur)
}

// fail ends an observation that cannot be sent at all (its transmitter or set went away, the
// queue refused the payload): failed, with the reason as its verdict.
func (s *Service) fail(ctx context.Context, o *store.Observation, from string, cause error) error {
	reason := "not dispatched: " + cause.Error()
	reasons, _ := json.Marshal([]string{reason}) // a []string always marshals
	_, err := s.st.UpdateObservation(ctx, o.ID, store.ObservationUpdate{From: []string{from}, To: store.ObsFailed,
		Reason: reason, Actor: dispatcherName, Set: map[string]any{"verdict": VerdictFailed,
			"verdict_reasons": string(reasons), "verdict_at": s.now(), "claimed_until": nil}})
	s.log.Error("observation cannot be dispatched", zap.String("observation_id", o.ID), zap.Error(cause))
	return err
}

// payload is the observation.schedule payload of o.
func (s *Service) payload(ctx context.Context, o *store.Observation) (*api.ObservationSchedulePayload, error) {
	es, err := s.st.ElementSetByID(ctx, o.ElementSetID)
	if err != nil {
		return nil, err
	}
	set, err := payloadElementSet(es)
	if err != nil {
		return nil, err
	}
	tx, err := s.transmitter(ctx, o)
	if err != nil {
		return nil, err
	}
	p := &api.ObservationSchedulePayload{ObservationID: o.ID, NoradID: o.NORADID, ElementSet: set, AOS: o.AOS, LOS: o.LOS,
		Transmitter: tx, Rotator: api.RotatorSettings{MinElevationDeg: math.Min(math.Max(o.HorizonEl, -5), 90),
			AfterLOS: api.AfterLOSPark}}
	if o.Decoder != "" {
		p.Process = &api.ProcessStartPayload{Name: "obs-" + o.ID, TeamID: o.TeamID, Program: o.Decoder}
	}
	return p, p.Validate()
}

func (s *Service) transmitter(ctx context.Context, o *store.Observation) (api.ObservationTransmitter, error) {
	txs, err := s.st.Transmitters(ctx, o.SpacecraftID)
	if err != nil {
		return api.ObservationTransmitter{}, err
	}
	for _, t := range txs {
		if t.ID != o.TransmitterID || t.DownlinkLow == nil {
			continue
		}
		out := api.ObservationTransmitter{DownlinkHz: float64(*t.DownlinkLow), Mode: hamlibMode(t.Mode)}
		if t.UplinkLow != nil {
			out.UplinkHz = float64(*t.UplinkLow)
		}
		return out, nil
	}
	return api.ObservationTransmitter{}, fmt.Errorf("transmitter %s of NORAD %d is gone", o.TransmitterID, o.NORADID)
}

// hamlibMode maps a catalog (SatNOGS) mode onto the Hamlib mode the radio is set to; a mode
// the radio has no name for leaves the radio's own ("").
func hamlibMode(mode string) string {
	switch m := strings.ToUpper(mode); m {
	case "FM", "AM", "USB", "LSB", "CW":
		return m
	case "AFSK", "FSK", "GFSK", "GMSK", "FMN":
		return "FM"
	case "SSTV", "APT":
		return "FM"
	}
	return ""
}

// payloadElementSet is a stored set as a station takes it: the two lines (and the name) of a
// TLE, or the OMM JSON object.
func payloadElementSet(es *store.ElementSet) (api.ObservationElementSet, error) {
	switch catalog.Format(es.Format) {
	case catalog.FormatTLE:
		var lines []string
		for _, l := range strings.Split(strings.TrimSpace(es.Raw), "\n") {
			if l = strings.TrimRight(l, " \r"); l != "" {
				lines = append(lines, l)
			}
		}
		switch len(lines) {
		case 2:
			return api.ObservationElementSet{Line1: lines[0], Line2: lines[1]}, nil
		case 3:
			return api.ObservationElementSet{Name: strings.TrimSpace(strings.TrimPrefix(lines[0], "0 ")), Line1: lines[1], Line2: lines[2]}, nil
		}
		return api.ObservationElementSet{}, fmt.Errorf("stored TLE has %d lines", len(lines))
	case catalog.FormatOMMJSON:
		return api.ObservationElementSet{OMM: json.RawMessage(es.Raw)}, nil
	}
	return api.ObservationElementSet{}, fmt.Errorf("a %s record cannot be sent; import the spacecraft as TLE or OMM JSON", es.Format)
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
