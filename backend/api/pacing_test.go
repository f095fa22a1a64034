package api

import "testing"

func TestPacing(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		maintenance bool
		rank        int
		mode        PollingMode
		seconds     int
	}{
		{false, -1, PollingIdle, 60},
		{false, PriorityImmediate.Rank(), PollingImmediate, 2},
		{false, PriorityHigh.Rank(), PollingHigh, 10},
		{false, PriorityNormal.Rank(), PollingNormal, 30},
		{false, PriorityLow.Rank(), PollingNormal, 30},
		{true, PriorityImmediate.Rank(), PollingMaintenance, 300},
		{true, -1, PollingMaintenance, 300},
	} {
		mode := PollingFor(tc.maintenance, tc.rank)
		if mode != tc.mode || mode.Seconds() != tc.seconds {
			t.Errorf("maintenance %v rank %d: %s %d s, want %s %d s", tc.maintenance, tc.rank, mode, mode.Seconds(), tc.mode, tc.seconds)
		}
	}
	if PollingMode("other").Seconds() != 0 || MinPollSeconds != 2 || MaxPollSeconds != 300 {
		t.Error("unknown modes have no interval; the bounds are the immediate and maintenance intervals")
	}
}
