package integration

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestSkipSkipsLocally(t *testing.T) {
	if Required() {
		t.Skip("TALOS_REQUIRE_INTEGRATION=1: Skip fails instead, which this test cannot observe from inside")
	}
	var inner *testing.T
	t.Run("needs a component", func(t *testing.T) {
		inner = t
		Skip(t, "component missing")
		t.Error("Skip returned")
	})
	assert.True(t, inner.Skipped())
	assert.False(t, inner.Failed())
}
