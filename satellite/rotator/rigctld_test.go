package rotator

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newTestRigctld(t *testing.T, addr string) *Rigctld {
	t.Helper()
	r, err := NewRigctld(RigctldOptions{ConnOptions: ConnOptions{Addr: addr, CallTimeout: 5 * time.Second}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.Close() })
	return r
}

func TestRigctldFrequencyAndMode(t *testing.T) {
	t.Parallel()
	d := startDaemon(t, "rigctld")
	r := newTestRigctld(t, d.addr())
	ctx := context.Background()
	require.NoError(t, r.Connect(ctx))

	tests := []struct {
		name   string
		hz     float64
		wantHz float64
		mode   string
		pb     int
	}{
		{"2 m FM", 145_800_000, 145_800_000, "FM", 15000},
		{"70 cm USB, Doppler-shifted fraction rounds", 435_123_456.6, 435_123_457, "USB", 2400},
		{"HF CW", 7_030_000, 7_030_000, "CW", 500},
	}
	for _, tt := range tests {
		require.NoError(t, r.SetFrequency(ctx, tt.hz), tt.name)
		got, err := r.Frequency(ctx)
		require.NoError(t, err)
		assert.InDelta(t, tt.wantHz, got, 0.5, tt.name)

		require.NoError(t, r.SetMode(ctx, tt.mode, tt.pb), tt.name)
		mode, pb, err := r.Mode(ctx)
		require.NoError(t, err)
		assert.Equal(t, tt.mode, mode, tt.name)
		assert.Equal(t, tt.pb, pb, tt.name)
	}

	modes, err := r.Modes(ctx)
	require.NoError(t, err)
	assert.Contains(t, modes, "USB")
	assert.Contains(t, modes, "FM")
}

func TestRigctldSplitUplink(t *testing.T) {
	t.Parallel()
	d := startDaemon(t, "rigctld")
	r := newTestRigctld(t, d.addr())
	ctx := context.Background()

	require.NoError(t, r.SetSplit(ctx, true, "VFOB"))
	on, vfo, err := r.Split(ctx)
	require.NoError(t, err)
	assert.True(t, on)
	assert.Equal(t, "VFOB", vfo)

	up := r.Uplink()
	require.NoError(t, r.SetFrequency(ctx, 145_900_000))
	require.NoError(t, up.SetFrequency(ctx, 435_300_000))
	require.NoError(t, up.SetMode(ctx, "LSB", 2700))
	down, err := r.Frequency(ctx)
	require.NoError(t, err)
	tx, err := up.Frequency(ctx)
	require.NoError(t, err)
	assert.InDelta(t, 145_900_000, down, 0.5, "downlink untouched by the uplink")
	assert.InDelta(t, 435_300_000, tx, 0.5)
	mode, pb, err := up.Mode(ctx)
	require.NoError(t, err)
	assert.Equal(t, "LSB", mode)
	assert.Equal(t, 2700, pb)

	require.NoError(t, r.SetSplit(ctx, false, "VFOA"))
	on, _, err = r.Split(ctx)
	require.NoError(t, err)
	assert.False(t, on)
}

func TestRigctldRefusals(t *testing.T) {
	t.Parallel()
	d := startDaemon(t, "rigctld")
	r := newTestRigctld(t, d.addr())
	ctx := context.Background()
	tests := []struct {
		name string
		call func() error
		want string
	}{
		{"zero frequency", func() error { return r.SetFrequency(ctx, 0) }, "frequency"},
		{"absurd frequency", func() error { return r.SetFrequency(ctx, 1e20) }, "frequency"},
		{"mode with a space", func() error { return r.SetMode(ctx, "FM 0\n+\\set_freq", 0) }, "mode"},
		{"lower-case mode", func() error { return r.SetMode(ctx, "usb", 0) }, "mode"},
		{"negative passband", func() error { return r.SetMode(ctx, "USB", -5) }, "passband"},
		// Refused by rigctld itself (RPRT -1), not by the client.
		{"unknown VFO", func() error { return r.SetSplit(ctx, true, "VFOZ") }, "invalid parameter"},
	}
	for _, tt := range tests {
		err := tt.call()
		require.ErrorIs(t, err, ErrInvalidParameter, tt.name)
		assert.Contains(t, err.Error(), tt.want, tt.name)
	}
	_, err := r.Frequency(ctx)
	require.NoError(t, err, "refusals leave the connection usable")
}

// BenchmarkRigctldSetGetFrequency measures one set_freq plus one get_freq against a real
// rigctld on loopback: the cost of one Doppler correction with readback.
func BenchmarkRigctldSetGetFrequency(b *testing.B) {
	d := startDaemon(b, "rigctld")
	r, err := NewRigctld(RigctldOptions{ConnOptions: ConnOptions{Addr: d.addr()}})
	require.NoError(b, err)
	defer func() { _ = r.Close() }()
	ctx := context.Background()
	require.NoError(b, r.Connect(ctx))
	for i := 0; b.Loop(); i++ {
		if err := r.SetFrequency(ctx, 437_800_000+float64(i%1000)); err != nil {
			b.Fatal(err)
		}
		if _, err := r.Frequency(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// TestRigctldReconnect kills rigctld mid-session and restarts it on the same port.
func TestRigctldReconnect(t *testing.T) {
	t.Parallel()
	d := startDaemon(t, "rigctld")
	r := newTestRigctld(t, d.addr())
	ctx := context.Background()
	require.NoError(t, r.SetFrequency(ctx, 437_000_000))

	d.kill()
	err := r.SetFrequency(ctx, 437_000_100)
	require.ErrorIs(t, err, ErrDisconnected)
	assert.True(t, IsFault(err))

	d.start()
	require.NoError(t, r.SetFrequency(ctx, 437_000_200))
	hz, err := r.Frequency(ctx)
	require.NoError(t, err)
	assert.InDelta(t, 437_000_200, hz, 0.5)
}
