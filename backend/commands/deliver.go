package commands

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"go.uber.org/zap"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/backend/store"
)

// Delivery is what one poll of a satellite hands out.
type Delivery struct {
	// Commands are leased to the satellite, highest priority first, then oldest; at most
	// api.MaxCommandsPerPoll.
	Commands []store.Command
	// PollingMode and NextPollSeconds pace the satellite's next poll.
	PollingMode     api.PollingMode
	NextPollSeconds int
}

// Deliver leases sat's deliverable commands to it (pending ones, and delivered ones whose lease
// lapsed), fails instead of delivering any process command of a team the satellite no longer
// belongs to, and paces the next poll by the most urgent command delivered or still waiting
// (maintenance mode overrides). A paused satellite is handed only PausedTypes; its other
// commands wait for the resume and do not speed up its polling.
func (s *Service) Deliver(ctx context.Context, sat *store.Satellite) (Delivery, error) {
	cmds, waiting, err := s.store.Deliver(ctx, sat.ID, s.lease, PausedTypes...)
	if err != nil {
		return Delivery{}, err
	}
	if len(cmds) > 0 {
		cmds = s.withholdForeignProcesses(ctx, sat, cmds)
	}
	rank := waiting
	for i := range cmds {
		s.metrics.delivered.WithLabelValues(string(cmds[i].Priority), strconv.FormatBool(cmds[i].Attempt > 1)).Inc()
		if rank < 0 || cmds[i].PriorityRank < rank {
			rank = cmds[i].PriorityRank
		}
	}
	d := Delivery{Commands: cmds}
	d.PollingMode, d.NextPollSeconds = Pacing(sat, rank)
	return d, nil
}

// Pacing is the polling mode and interval (seconds) for sat when the most urgent command
// delivered or waiting has rank mostUrgentRank (-1: none): the idle pacing of an empty answer
// is Pacing(sat, -1).
func Pacing(sat *store.Satellite, mostUrgentRank int) (api.PollingMode, int) {
	maintenance := sat.Maintenance || sat.Status == string(api.StatusMaintenance)
	mode := api.PollingFor(maintenance, mostUrgentRank)
	return mode, mode.Seconds()
}

// withholdForeignProcesses fails, instead of delivering, each process command whose team is
// not the satellite's team now: it was queued before an administrator moved the satellite to
// another team, and must not run as its former team's user on what is now another team's
// station. The failure, with its reason, shows in the command's history.
func (s *Service) withholdForeignProcesses(ctx context.Context, sat *store.Satellite, cmds []store.Command) []store.Command {
	kept := cmds[:0]
	for i := range cmds {
		team, isProcess := processTeam(&cmds[i])
		if !isProcess || (sat.TeamID != nil && team == *sat.TeamID) {
			kept = append(kept, cmds[i])
			continue
		}
		now := "no team"
		if sat.TeamID != nil {
			now = "team " + *sat.TeamID
		}
		msg := fmt.Sprintf("not delivered: the process is for team %s, but the satellite now belongs to %s", team, now)
		_, _, err := s.store.MoveCommand(ctx, sat.ID, cmds[i].ID, []api.CommandStatus{api.CommandDelivered},
			store.StatusUpdate{Status: api.CommandFailed, Error: msg})
		if err != nil {
			s.log.Warn("fail a command of another team", zap.String("command_id", cmds[i].ID), zap.Error(err))
		}
	}
	return kept
}

// processTeam returns the team_id of a command that starts a process (process.start, or an
// observation with a process); isProcess is false for any other command.
func processTeam(cmd *store.Command) (team string, isProcess bool) {
	if cmd.Payload == nil {
		return "", false
	}
	raw := []byte(*cmd.Payload)
	switch cmd.Type {
	case api.CommandProcessStart:
		var p api.ProcessStartPayload
		if err := json.Unmarshal(raw, &p); err != nil {
			return "", false // not a payload the station can run either; it reports the failure
		}
		return p.TeamID, true
	case api.CommandObservationSchedule:
		var p api.ObservationSchedulePayload
		if err := json.Unmarshal(raw, &p); err != nil || p.Process == nil {
			return "", false
		}
		return p.Process.TeamID, true
	}
	return "", false
}
