package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/satellite/tracker"
)

// TestValidationKeepsTheErrorChain: the configuration wraps the tracker's own error instead of
// rebuilding its text, so errors.As still finds it and the field it names.
func TestValidationKeepsTheErrorChain(t *testing.T) {
	t.Parallel()
	cfg := Default()
	cfg.Tracker.PlanStep = 2 * time.Minute
	err := cfg.Validate()
	require.Error(t, err)
	var ce *tracker.ConfigError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "plan_step", ce.Field)
	assert.Contains(t, err.Error(), "tracker: plan_step")
}

// TestDefaultsAreTheDevicePackagesOwn: the configuration's defaults are the rotator's and the
// tracker's, not a copy that could drift from them.
func TestDefaultsAreTheDevicePackagesOwn(t *testing.T) {
	t.Parallel()
	cfg := Default()
	assert.Equal(t, tracker.DefaultConfig(), cfg.Tracker)
	require.NoError(t, tracker.ValidateConfig(tracker.Config{}), "the zero value means the defaults")
}
