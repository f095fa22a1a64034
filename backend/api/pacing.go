package api

// The pacing table: how long a satellite waits between command polls, per polling mode, in
// seconds (ARCHITECTURE.md, "Polling guidance"). This is the only place the numbers live; the
// backend, the satellite's poller and the test fake backend all read them from here.
const (
	// PollSecondsImmediate goes with PollingImmediate: an immediate command is pending.
	PollSecondsImmediate = 2
	// PollSecondsHigh goes with PollingHigh: a high-priority command is pending.
	PollSecondsHigh = 10
	// PollSecondsNormal goes with PollingNormal: normal or low commands are pending.
	PollSecondsNormal = 30
	// PollSecondsIdle goes with PollingIdle: nothing is pending.
	PollSecondsIdle = 60
	// PollSecondsMaintenance goes with PollingMaintenance: the satellite is in maintenance.
	PollSecondsMaintenance = 300

	// MinPollSeconds and MaxPollSeconds bound any poll interval, in seconds: a satellite clamps
	// a suggested interval to them.
	MinPollSeconds = PollSecondsImmediate
	MaxPollSeconds = PollSecondsMaintenance
)

// Seconds is the poll interval the backend pairs with m, in seconds; 0 for an unknown mode.
func (m PollingMode) Seconds() int {
	switch m {
	case PollingImmediate:
		return PollSecondsImmediate
	case PollingHigh:
		return PollSecondsHigh
	case PollingNormal:
		return PollSecondsNormal
	case PollingIdle:
		return PollSecondsIdle
	case PollingMaintenance:
		return PollSecondsMaintenance
	}
	return 0
}

// PollingFor picks the polling mode from the satellite's maintenance mode, which overrides
// everything, and the most urgent command just delivered or still waiting: its priority's
// Rank, or -1 when there is none.
func PollingFor(maintenance bool, mostUrgentRank int) PollingMode {
	switch {
	case maintenance:
		return PollingMaintenance
	case mostUrgentRank == PriorityImmediate.Rank():
		return PollingImmediate
	case mostUrgentRank == PriorityHigh.Rank():
		return PollingHigh
	case mostUrgentRank >= 0:
		return PollingNormal
	}
	return PollingIdle
}
