// Package stationtest holds what the tests of an assembled station share: the decoder
// allow-list they run and a team directory base that leaves no system user behind.
package stationtest

import (
	"testing"

	"github.com/talos-gs/talos/satellite/proc"
	"github.com/talos-gs/talos/satellite/proc/proctest"
)

// Programs is the allow-list of the station tests: a decoder that prints and waits, and a
// process that ignores SIGTERM.
func Programs() map[string]proc.Program {
	return map[string]proc.Program{
		"decoder-sim": {Path: "/bin/sh", Args: []string{"-c", "echo decoding; exec sleep 600"}},
		"stubborn":    {Path: "/bin/sh", Args: []string{"-c", "trap '' TERM; echo up; while :; do sleep 1; done"}},
	}
}

// DecoderWorkDir is a team directory base every team user can traverse, outside /tmp (which an
// isolated decoder gets as its team's own directory); removed, with the users made below it,
// when the test ends.
func DecoderWorkDir(t testing.TB) string {
	t.Helper()
	return proctest.DecoderWorkDir(t, "talos-cli-decoders-")
}
