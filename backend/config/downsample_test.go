package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestHeartbeatDownsampleOptions: defaults, accepted values and errors naming the variable.
func TestHeartbeatDownsampleOptions(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name          string
		env           map[string]string
		after, bucket time.Duration
		err           string
	}{
		{"defaults", nil, 24 * time.Hour, 10 * time.Minute, ""},
		{"set", map[string]string{"TALOS_HEARTBEAT_DOWNSAMPLE_AFTER": "6h", "TALOS_HEARTBEAT_DOWNSAMPLE_BUCKET": "90s"}, 6 * time.Hour, 90 * time.Second, ""},
		{"a day", map[string]string{"TALOS_HEARTBEAT_DOWNSAMPLE_BUCKET": "24h"}, 24 * time.Hour, 24 * time.Hour, ""},
		{"after zero", map[string]string{"TALOS_HEARTBEAT_DOWNSAMPLE_AFTER": "0s"}, 0, 0, "TALOS_HEARTBEAT_DOWNSAMPLE_AFTER"},
		{"after garbage", map[string]string{"TALOS_HEARTBEAT_DOWNSAMPLE_AFTER": "a day"}, 0, 0, "TALOS_HEARTBEAT_DOWNSAMPLE_AFTER"},
		{"bucket too small", map[string]string{"TALOS_HEARTBEAT_DOWNSAMPLE_BUCKET": "30s"}, 0, 0, "TALOS_HEARTBEAT_DOWNSAMPLE_BUCKET"},
		{"bucket too large", map[string]string{"TALOS_HEARTBEAT_DOWNSAMPLE_BUCKET": "25h"}, 0, 0, "TALOS_HEARTBEAT_DOWNSAMPLE_BUCKET"},
		{"bucket fractional", map[string]string{"TALOS_HEARTBEAT_DOWNSAMPLE_BUCKET": "90.5s"}, 0, 0, "TALOS_HEARTBEAT_DOWNSAMPLE_BUCKET"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := load(t, tc.env)
			if tc.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.after, c.HeartbeatDownsampleAfter)
			assert.Equal(t, tc.bucket, c.HeartbeatDownsampleBucket)
		})
	}
}
