package commands

import (
	"context"
	"errors"
	"fmt"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/backend/store"
	"github.com/talos-gs/talos/backend/tagquery"
)

// NoMatch is the Kind of a fan-out whose query selects no satellite of the team.
const NoMatch Kind = "no_match"

// FanOutInput is a command to send to every satellite of a team a tag query selects.
type FanOutInput struct {
	TeamID string
	// Target is the tag query (backend/tagquery).
	Target string
	// Command is the command each satellite gets; its SatelliteID is ignored.
	Command CreateInput
}

// Skipped is a satellite the query selected that did not get the command.
type Skipped struct {
	SatelliteID string
	Reason      string
}

// FanOut is a fan-out with its children.
type FanOut struct {
	Parent   *store.CommandFanout
	Children []store.Command
	// Skipped lists the selected satellites left out (paused ones, for a type a paused
	// satellite does not take); only when the fan-out is created.
	Skipped []Skipped
}

// Summary counts a fan-out's children by where they are: queued (pending), delivered
// (delivered, acknowledged or running), succeeded, failed, cancelled and expired.
type Summary struct {
	Total     int `json:"total"`
	Queued    int `json:"queued"`
	Delivered int `json:"delivered"`
	Succeeded int `json:"succeeded"`
	Failed    int `json:"failed"`
	Cancelled int `json:"cancelled"`
	Expired   int `json:"expired"`
}

// Summary counts f's children.
func (f *FanOut) Summary() Summary {
	out := Summary{Total: len(f.Children)}
	for i := range f.Children {
		switch f.Children[i].Status {
		case api.CommandPending:
			out.Queued++
		case api.CommandDelivered, api.CommandAcknowledged, api.CommandRunning:
			out.Delivered++
		case api.CommandSucceeded:
			out.Succeeded++
		case api.CommandFailed:
			out.Failed++
		case api.CommandCancelled:
			out.Cancelled++
		case api.CommandExpired:
			out.Expired++
		}
	}
	return out
}

// ParseTarget parses a fan-out's tag query, naming the field "target" in its error.
func ParseTarget(target string) (*tagquery.Query, error) {
	q, err := tagquery.Parse(target)
	var pe *tagquery.Error
	if errors.As(err, &pe) {
		return nil, invalid("target", "target %s", pe.Error())
	}
	return q, err
}

// FanOut sends in.Command to every satellite of in.TeamID that in.Target selects: a parent and
// one child command per satellite, each checked exactly as Create checks a command (the same
// validation, the payload bound to the team), all queued in one transaction. A query that
// selects no satellite is a NoMatch refusal naming it; satellites that are paused (for a type
// they do not take while paused) are skipped and listed, and when every selected satellite is
// skipped the fan-out is a Conflict.
func (s *Service) FanOut(ctx context.Context, in FanOutInput) (*FanOut, error) {
	if err := in.Command.validate(); err != nil {
		return nil, err
	}
	q, err := ParseTarget(in.Target)
	if err != nil {
		return nil, err
	}
	sats, err := s.store.SatellitesMatching(ctx, in.TeamID, q)
	if err != nil {
		return nil, err
	}
	if len(sats) == 0 {
		return nil, &Error{Kind: NoMatch, Field: "target", Message: fmt.Sprintf("no station of the team matches the query %q", q.String())}
	}
	out := &FanOut{}
	children, err := s.children(&in.Command, sats, out)
	if err != nil {
		return nil, err
	}
	parent := &store.CommandFanout{TeamID: in.TeamID, Target: q.String(), Type: in.Command.Type,
		Priority: in.Command.Priority, CorrelationID: in.Command.CorrelationID, CreatedBy: in.Command.CreatedBy}
	parent.Payload = children[0].Payload
	if err := s.store.CreateFanout(ctx, parent, children); err != nil {
		return nil, err
	}
	out.Parent = parent
	for _, c := range children {
		out.Children = append(out.Children, *c)
		s.Wake(ctx, c.SatelliteID)
	}
	return out, nil
}

// children builds one command per satellite, skipping paused satellites.
func (s *Service) children(in *CreateInput, sats []store.Satellite, out *FanOut) ([]*store.Command, error) {
	var children []*store.Command
	for i := range sats {
		cmd, err := s.commandFor(in, &sats[i])
		var ce *Error
		if errors.As(err, &ce) && ce.Kind == Conflict {
			out.Skipped = append(out.Skipped, Skipped{SatelliteID: sats[i].ID, Reason: ce.Message})
			continue
		}
		if err != nil {
			return nil, err
		}
		children = append(children, cmd)
	}
	if len(children) == 0 {
		return nil, conflict("every station the query selects (%d) is paused and does not take %s", len(sats), in.Type)
	}
	return children, nil
}

// Fanout returns a fan-out of teamID with its children; another team's is store.ErrNotFound.
func (s *Service) Fanout(ctx context.Context, teamID, id string) (*FanOut, error) {
	if !store.ValidID(id) {
		return nil, fmt.Errorf("fan-out %q: %w", id, store.ErrNotFound)
	}
	parent, err := s.store.TeamFanout(ctx, teamID, id)
	if err != nil {
		return nil, err
	}
	children, err := s.store.FanoutChildren(ctx, id)
	if err != nil {
		return nil, err
	}
	return &FanOut{Parent: parent, Children: children}, nil
}

// CancelFanout cancels a fan-out of teamID: every child not yet acknowledged (pending or
// delivered) is cancelled, as Cancel would; acknowledged and running ones are the satellites'
// to finish. Cancelling it again cancels nothing more and is not an error.
func (s *Service) CancelFanout(ctx context.Context, teamID, id string) (*FanOut, int64, error) {
	if !store.ValidID(id) {
		return nil, 0, fmt.Errorf("fan-out %q: %w", id, store.ErrNotFound)
	}
	n, err := s.store.CancelFanout(ctx, teamID, id, unfinished)
	if err != nil {
		return nil, 0, err
	}
	f, err := s.Fanout(ctx, teamID, id)
	return f, n, err
}
