// Package integration implements the project's rule for tests that need a real component:
// skip with a clear reason locally, fail when TALOS_REQUIRE_INTEGRATION=1 (as in CI).
package integration

import (
	"os"
	"testing"
)

// Required reports whether the environment demands every integration test to run.
func Required() bool { return os.Getenv("TALOS_REQUIRE_INTEGRATION") == "1" }

// Skip skips t with reason, or fails it when integration tests are required.
func Skip(t testing.TB, reason string) {
	t.Helper()
	if Required() {
		t.Fatalf("TALOS_REQUIRE_INTEGRATION=1 but: %s", reason)
	}
	t.Skip(reason)
}
