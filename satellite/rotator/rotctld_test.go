package rotator

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/satellite/internal/backoff"
)

func newTestRotctld(t *testing.T, addr string, limits Limits) *Rotctld {
	t.Helper()
	r, err := NewRotctld(RotctldOptions{ConnOptions: ConnOptions{Addr: addr, CallTimeout: 5 * time.Second}, Limits: limits})
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// waitPosition waits until the dummy rotator, which slews gradually, reports az, el (±0.5°).
func waitPosition(t *testing.T, r Rotator, az, el float64) {
	t.Helper()
	eventually(t, 60*time.Second, func() error {
		gotAz, gotEl, err := r.Position(context.Background())
		if err != nil {
			return err
		}
		if math.Abs(gotAz-az) > 0.5 || math.Abs(gotEl-el) > 0.5 {
			return fmt.Errorf("at %.2f/%.2f, want %.2f/%.2f", gotAz, gotEl, az, el)
		}
		return nil
	})
}

func TestRotctldSetGetStopPark(t *testing.T) {
	t.Parallel()
	d := startDaemon(t, "rotctld")
	r := newTestRotctld(t, d.addr(), Limits{})
	ctx := context.Background()

	require.NoError(t, r.Connect(ctx))
	assert.True(t, r.Connected())
	require.NoError(t, r.SetPosition(ctx, 20, 10))
	waitPosition(t, r, 20, 10)

	// A long move, stopped half-way, stays where it stopped.
	require.NoError(t, r.SetPosition(ctx, 120, 80))
	eventually(t, 30*time.Second, func() error {
		az, _, err := r.Position(ctx)
		if err == nil && az < 25 {
			return fmt.Errorf("still at az %.2f", az)
		}
		return err
	})
	require.NoError(t, r.Stop(ctx))
	az1, el1, err := r.Position(ctx)
	require.NoError(t, err)
	assert.Less(t, az1, 119.0, "stopped before the target")
	time.Sleep(300 * time.Millisecond) // the dummy would have moved ~2° by now if still slewing
	az2, el2, err := r.Position(ctx)
	require.NoError(t, err)
	assert.InDelta(t, az1, az2, 0.01)
	assert.InDelta(t, el1, el2, 0.01)

	// The dummy parks at 0/0.
	require.NoError(t, r.Park(ctx))
	waitPosition(t, r, 0, 0)
}

func TestRotctldLimits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		extra []string
		want  Limits
	}{
		// The dummy model's own range, as dump_state reports it.
		{"model range", nil, Limits{MinAz: -180, MaxAz: 450, MinEl: 0, MaxEl: 90}},
		// A station narrowing the range with -C: dump_state reports what is in force.
		{"configured range", []string{"-C", "min_az=0,max_az=360,max_el=180"}, Limits{MinAz: 0, MaxAz: 360, MinEl: 0, MaxEl: 180}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := startDaemon(t, "rotctld", tt.extra...)
			r := newTestRotctld(t, d.addr(), Limits{MinAz: 0, MaxAz: 360, MinEl: 0, MaxEl: 90})
			assert.False(t, r.LimitsFromDevice())
			require.NoError(t, r.Connect(context.Background()))
			assert.True(t, r.LimitsFromDevice())
			assert.Equal(t, tt.want, r.Limits())
			if tt.want.MinAz < 0 {
				// A negative azimuth crosses the wire and is followed.
				require.NoError(t, r.SetPosition(context.Background(), -20, 0))
				eventually(t, 30*time.Second, func() error {
					az, _, err := r.Position(context.Background())
					if err == nil && az > -1 {
						return fmt.Errorf("az %.2f, want below -1", az)
					}
					return err
				})
			}
		})
	}
}

func TestRotctldErrorReplies(t *testing.T) {
	t.Parallel()
	d := startDaemon(t, "rotctld", "-C", "min_az=0,max_az=360")
	r := newTestRotctld(t, d.addr(), Limits{})
	ctx := context.Background()
	tests := []struct {
		name   string
		az, el float64
	}{
		{"azimuth above max", 400, 10},
		{"azimuth below min", -10, 10},
		{"elevation above max", 10, 95},
	}
	for _, tt := range tests {
		err := r.SetPosition(ctx, tt.az, tt.el)
		require.ErrorIs(t, err, ErrInvalidParameter, tt.name)
		var he *HamlibError
		require.ErrorAs(t, err, &he)
		assert.Equal(t, -1, he.Code)
		assert.Equal(t, "set_pos", he.Command)
		assert.Contains(t, err.Error(), "invalid parameter")
		assert.False(t, IsFault(err), "a refused position is not a fault")
	}
	// The connection survives a refused command.
	_, _, err := r.Position(ctx)
	require.NoError(t, err)
	require.ErrorIs(t, r.SetPosition(ctx, math.NaN(), 0), ErrInvalidParameter)
}

// TestRotctldReconnect kills rotctld mid-session and restarts it on the same port: calls fail
// with ErrDisconnected while it is down and work again once it is back.
func TestRotctldReconnect(t *testing.T) {
	t.Parallel()
	d := startDaemon(t, "rotctld")
	r := newTestRotctld(t, d.addr(), Limits{})
	ctx := context.Background()
	require.NoError(t, r.SetPosition(ctx, 5, 5))

	d.kill()
	_, _, err := r.Position(ctx)
	require.ErrorIs(t, err, ErrDisconnected)
	assert.True(t, IsFault(err))
	assert.False(t, r.Connected())
	// While it is down, a call dials once and fails fast.
	_, _, err = r.Position(ctx)
	require.ErrorIs(t, err, ErrDisconnected)
	assert.Contains(t, err.Error(), "connect")

	d.start()
	az, el, err := r.Position(ctx)
	require.NoError(t, err)
	assert.Zero(t, az, "a restarted dummy starts at 0/0")
	assert.Zero(t, el)
	assert.True(t, r.Connected())
}

// TestRotctldRunReconnects checks the background loop brings the connection back on its own.
func TestRotctldRunReconnects(t *testing.T) {
	t.Parallel()
	d := startDaemon(t, "rotctld")
	r, err := NewRotctld(RotctldOptions{ConnOptions: ConnOptions{
		Addr: d.addr(), Backoff: &backoff.Backoff{Base: 10 * time.Millisecond, Max: 50 * time.Millisecond},
	}})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() { cancel(); require.NoError(t, <-done); _ = r.Close() })

	eventually(t, 10*time.Second, connectedIs(r, true))
	d.kill()
	_, _, err = r.Position(context.Background())
	require.ErrorIs(t, err, ErrDisconnected)
	d.start()
	eventually(t, 10*time.Second, connectedIs(r, true))
}

func connectedIs(r interface{ Connected() bool }, want bool) func() error {
	return func() error {
		if r.Connected() != want {
			return fmt.Errorf("connected is %v", !want)
		}
		return nil
	}
}

// BenchmarkRotctldSetGetRoundTrip measures one set_pos plus one get_pos against a real rotctld
// on loopback: the cost of a tracker tick's rotator I/O.
func BenchmarkRotctldSetGetRoundTrip(b *testing.B) {
	d := startDaemon(b, "rotctld")
	r, err := NewRotctld(RotctldOptions{ConnOptions: ConnOptions{Addr: d.addr()}})
	require.NoError(b, err)
	defer func() { _ = r.Close() }()
	ctx := context.Background()
	require.NoError(b, r.Connect(ctx))
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if err := r.SetPosition(ctx, float64(i%90), 10); err != nil {
			b.Fatal(err)
		}
		if _, _, err := r.Position(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
