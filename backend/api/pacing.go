package api

// The pacing table: how long a satellite waits between command polls, per polling mode, in
// seconds (ARCHITECTURE.md, "Polling guidance"). This is the only place the numbers live; the
// backend, the satellite's poller and the test fake backend all read them from here.
var pollSeconds = map[PollingMode]int{
	PollingImmediate:   2,
	PollingHigh:        10,
	PollingNormal:      30,
	PollingIdle:        60,
	PollingMaintenance: 300,
}

// Seconds is the poll interval the backend pairs with m, in seconds; 0 for an unknown mode.
func (m PollingMode) Seconds() int { return pollSeconds[m] }

// Bounds of any poll interval, in seconds: a satellite clamps a suggested interval to them.
var (
	// MinPollSeconds is the shortest interval, the one of PollingImmediate.
	MinPollSeconds = PollingImmediate.Seconds()
	// MaxPollSeconds is the longest interval, the one of PollingMaintenance.
	MaxPollSeconds = PollingMaintenance.Seconds()
)

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
