package api

import "testing"

func TestReportAllowed(t *testing.T) {
	t.Parallel()
	all := []CommandStatus{CommandPending, CommandDelivered, CommandAcknowledged, CommandRunning,
		CommandSucceeded, CommandFailed, CommandCancelled, CommandExpired}
	allowed := map[[2]CommandStatus]bool{
		{CommandPending, CommandAcknowledged}: true, {CommandPending, CommandRunning}: true,
		{CommandPending, CommandSucceeded}: true, {CommandPending, CommandFailed}: true,
		{CommandDelivered, CommandAcknowledged}: true, {CommandDelivered, CommandRunning}: true,
		{CommandDelivered, CommandSucceeded}: true, {CommandDelivered, CommandFailed}: true,
		{CommandAcknowledged, CommandRunning}: true, {CommandAcknowledged, CommandSucceeded}: true,
		{CommandAcknowledged, CommandFailed}: true,
		{CommandRunning, CommandSucceeded}:   true, {CommandRunning, CommandFailed}: true,
	}
	for _, from := range all {
		if !from.Known() {
			t.Errorf("%s is a state", from)
		}
		for _, to := range all {
			if got := ReportAllowed(from, to); got != allowed[[2]CommandStatus{from, to}] {
				t.Errorf("%s → %s: allowed = %v", from, to, got)
			}
		}
	}
	if CommandStatus("done").Known() || ReportAllowed(CommandStatus("done"), CommandRunning) {
		t.Error("an unknown state is neither known nor left")
	}
}
