package tracker

import (
	"context"
	"fmt"
	"math"
	"net"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/orbit"
	"github.com/talos-gs/talos/satellite/internal/clock"
	"github.com/talos-gs/talos/satellite/internal/integration"
	"github.com/talos-gs/talos/satellite/rotator"
)

// hamlibDaemon is a real rotctld or rigctld (model 1, Hamlib's dummy device) on a free port.
type hamlibDaemon struct {
	t    *testing.T
	bin  string
	args []string
	port int

	mu  sync.Mutex
	cmd *exec.Cmd
}

func startHamlib(t *testing.T, bin string, args ...string) *hamlibDaemon {
	t.Helper()
	path, err := exec.LookPath(bin)
	if err != nil {
		integration.Skip(t, fmt.Sprintf("%s is not installed (Debian package libhamlib-utils): %v", bin, err))
	}
	d := &hamlibDaemon{t: t, bin: path, args: args}
	t.Cleanup(d.kill)
	for attempt := 1; ; attempt++ {
		d.port = freeTCPPort(t)
		if err := d.start(); err == nil {
			return d
		} else if attempt == 5 {
			t.Fatalf("start %s: %v", bin, err)
		}
	}
}

func freeTCPPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port
}

func (d *hamlibDaemon) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(d.port)) }

// start runs the daemon on d.port and waits until it accepts connections.
func (d *hamlibDaemon) start() error {
	args := append([]string{"-m", "1", "-T", "127.0.0.1", "-t", strconv.Itoa(d.port)}, d.args...)
	cmd := exec.Command(d.bin, args...)
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	d.mu.Lock()
	d.cmd = cmd
	d.mu.Unlock()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		select {
		case err := <-exited:
			return fmt.Errorf("%s exited at start: %w", d.bin, err)
		default:
		}
		if c, err := net.DialTimeout("tcp", d.addr(), 200*time.Millisecond); err == nil {
			_ = c.Close()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("%s did not listen on %s", d.bin, d.addr())
}

// kill stops the daemon (SIGKILL), as a crash would.
func (d *hamlibDaemon) kill() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cmd != nil && d.cmd.Process != nil {
		_ = d.cmd.Process.Kill()
		d.cmd = nil
	}
}

// positionLog records the rotator positions a test reads from rotctld, and the commands the
// tracker sends, with the (compressed) clock's time.
type positionLog struct {
	rotator.Rotator
	clk clock.Clock

	mu       sync.Mutex
	commands []PlanPoint
	readings []PlanPoint // T is when the reply came
	asked    []time.Time // when each position was asked for: the tick's start
	failures int
}

// SetPosition logs the command at the time it was sent, as a proxy in front of rotctld would.
func (p *positionLog) SetPosition(ctx context.Context, az, el float64) error {
	sent := p.clk.Now()
	err := p.Rotator.SetPosition(ctx, az, el)
	p.mu.Lock()
	defer p.mu.Unlock()
	if err == nil {
		p.commands = append(p.commands, PlanPoint{T: sent, AzDeg: az, ElDeg: el})
	} else {
		p.failures++
	}
	return err
}

func (p *positionLog) Position(ctx context.Context) (float64, float64, error) {
	asked := p.clk.Now()
	az, el, err := p.Rotator.Position(ctx)
	if err == nil {
		p.mu.Lock()
		p.readings = append(p.readings, PlanPoint{T: p.clk.Now(), AzDeg: az, ElDeg: el})
		p.asked = append(p.asked, asked)
		p.mu.Unlock()
	}
	return az, el, err
}

type hamlibCase struct {
	name   string
	conf   string // rotctld -C
	lim    rotator.Limits
	pass   SyntheticPass
	killAt float64 // fraction of the pass at which rotctld is killed and restarted; 0: never
	flips  bool
}

// TestHamlibTracksAPass tracks a synthetic near-overhead pass (83° maximum elevation, crossing
// azimuth 0 after culmination) against Debian's real rotctld and rigctld (dummy models) on a
// clock 15 times faster than the wall clock. The dummy rotator slews
// at about 6°/s of wall time, so it lags the spacecraft at times; what is checked is the path:
// every command and every reading stays on the planned side of the stop.
func TestHamlibTracksAPass(t *testing.T) {
	if testing.Short() && !integration.Required() {
		t.Skip("tracks two passes against real Hamlib daemons (about 80 s); skipped with -short")
	}
	t.Parallel()
	cases := []hamlibCase{
		{name: "0-450 overlap, rotctld killed mid-pass", conf: "min_az=0,max_az=450,min_el=0,max_el=90",
			lim: rotator.Limits{MinAz: 0, MaxAz: 450, MinEl: 0, MaxEl: 90}, pass: passOverheadNorth, killAt: 0.4},
		{name: "0-360 flip rotator", conf: "min_az=0,max_az=360,min_el=0,max_el=180",
			lim: rotator.Limits{MinAz: 0, MaxAz: 360, MinEl: 0, MaxEl: 180}, pass: passOverheadNorth, flips: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			runHamlibCase(t, tc)
		})
	}
}

func runHamlibCase(t *testing.T, tc hamlibCase) {
	rotd := startHamlib(t, "rotctld", "-C", tc.conf)
	rigd := startHamlib(t, "rigctld")
	p := passOf(t, tc.pass)
	// Start 12 simulated minutes (48 s of wall time) before AOS: the dummy needs up to 45 s to
	// reach the rise point from its park position.
	clk := NewScaledClock(p.AOS.Add(-12*time.Minute), 15)
	ev := &eventLog{}

	rot, err := rotator.NewRotctld(rotator.RotctldOptions{ConnOptions: rotator.ConnOptions{Addr: rotd.addr(), CallTimeout: time.Second}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = rot.Close() })
	ctx := context.Background()
	require.NoError(t, rot.Connect(ctx))
	require.Equal(t, tc.lim, rot.Limits(), "rotctld reports the configured range")
	mon, err := rotator.NewMonitor(rot, rotator.MonitorOptions{Name: "rotctld " + rotd.addr(), Emitter: ev, Clock: clk,
		Config: rotator.MonitorConfig{StuckAfter: time.Hour}})
	require.NoError(t, err)
	logRot := &positionLog{Rotator: mon, clk: clk}
	rig, err := rotator.NewRigctld(rotator.RigctldOptions{ConnOptions: rotator.ConnOptions{Addr: rigd.addr(), CallTimeout: time.Second}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = rig.Close() })
	radio := &recordingRadio{Radio: rig, clk: clk}

	tr, err := New(Options{Rotator: logRot, Downlink: radio, Clock: clk, Emitter: ev})
	require.NoError(t, err)
	p.Transmitter = api.ObservationTransmitter{DownlinkHz: 437.5e6, Mode: "FM", PassbandHz: 15000}

	restarted := make(chan time.Time, 1)
	if tc.killAt > 0 {
		go killAndRestart(t, rotd, clk, p.AOS.Add(time.Duration(tc.killAt*float64(p.LOS.Sub(p.AOS)))), restarted)
	}
	sum, err := tr.Track(ctx, p)
	require.NoError(t, err)
	t.Logf("summary: %+v", sum)

	assert.Zero(t, sum.StopCrossings)
	assert.Equal(t, tc.flips, sum.Flips > 0, "flips %d", sum.Flips)
	checkCommands(t, logRot, sum, tc.lim)
	var recoveredAt time.Time
	if tc.killAt > 0 {
		recoveredAt = <-restarted
		assert.Positive(t, sum.RotatorErrors, "the outage was seen")
		assert.Contains(t, ev.types(), api.EventRotatorFault)
		assert.Contains(t, ev.types(), api.EventRotatorRecovered)
		assertTrackingAfter(t, logRot, recoveredAt)
	}
	checkReadings(t, logRot, sum, p, recoveredAt)
	checkDoppler(t, radio, rig, p, sum)
	checkParked(t, rot)
}

// killAndRestart SIGKILLs rotctld at sim time `at`, and starts it again on the same port two
// wall-clock seconds later.
func killAndRestart(t *testing.T, d *hamlibDaemon, clk clock.Clock, at time.Time, restarted chan<- time.Time) {
	_ = clock.Wait(context.Background(), clk, at.Sub(clk.Now()))
	d.kill()
	time.Sleep(2 * time.Second) // a daemon being restarted by systemd
	if err := d.start(); err != nil {
		t.Errorf("restart rotctld: %v", err)
	}
	restarted <- clk.Now()
}

// checkCommands: every command is inside the limits and the plan's azimuth range, and no two
// successive commands are further apart than 180° (the long way round a stop).
func checkCommands(t *testing.T, l *positionLog, sum Summary, lim rotator.Limits) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	require.NotEmpty(t, l.commands)
	for i, c := range l.commands {
		require.True(t, lim.Contains(c.AzDeg, c.ElDeg), "command %d %+v outside %+v", i, c, lim)
		require.GreaterOrEqual(t, c.AzDeg, sum.PlanAzMinDeg-1e-6, "command %d", i)
		require.LessOrEqual(t, c.AzDeg, sum.PlanAzMaxDeg+1e-6, "command %d", i)
		if i > 0 {
			require.Less(t, math.Abs(c.AzDeg-l.commands[i-1].AzDeg), 180.0, "command %d", i)
		}
	}
}

// checkReadings: once the dummy reached the plan before AOS, every position rotctld reports
// until LOS lies within the planned azimuth range (a rotator crossing its stop would show
// readings on the far side). The slew back after rotctld's restart (the dummy restarts at 0°)
// is excluded until it is back on the path.
func checkReadings(t *testing.T, l *positionLog, sum Summary, p Pass, restart time.Time) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	const tolDeg = 1.0
	inPass, checked := false, 0
	for _, r := range l.readings {
		if !inPass {
			inPass = !r.T.Before(p.AOS) && r.AzDeg >= sum.PlanAzMinDeg-tolDeg && r.AzDeg <= sum.PlanAzMaxDeg+tolDeg
			if !inPass {
				continue
			}
		}
		if !r.T.Before(p.LOS) {
			break
		}
		if !restart.IsZero() && r.T.After(restart.Add(-time.Minute)) && r.AzDeg < sum.PlanAzMinDeg-tolDeg {
			continue // coming back from the restart position
		}
		checked++
		require.GreaterOrEqual(t, r.AzDeg, sum.PlanAzMinDeg-tolDeg, "reading at %s", r.T)
		require.LessOrEqual(t, r.AzDeg, sum.PlanAzMaxDeg+tolDeg, "reading at %s", r.T)
	}
	assert.Greater(t, checked, 100, "readings checked during the pass")
}

// assertTrackingAfter: after rotctld came back, commands succeed again and the dummy gets back
// onto the path.
func assertTrackingAfter(t *testing.T, l *positionLog, restart time.Time) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, c := range l.commands {
		if c.T.After(restart) {
			n++
		}
	}
	assert.Greater(t, n, 5, "commands accepted after the restart")
	last := l.readings[len(l.readings)-1]
	assert.True(t, last.T.After(restart), "positions read after the restart")
}

// checkDoppler: every frequency set on rigctld is f·(1 − ṙ/c) at the time it was set, and
// rigctld reads back what was set (to its 1 Hz resolution). The dummy rigctld takes ~40 ms of
// wall time per set_freq, longer than a compressed tick, so the Doppler loop overruns here:
// that is counted, never asserted.
func checkDoppler(t *testing.T, radio *recordingRadio, rig *rotator.Rigctld, p Pass, sum Summary) {
	t.Helper()
	radio.mu.Lock()
	sets := append([]freqSet(nil), radio.sets...)
	radio.mu.Unlock()
	require.Greater(t, len(sets), 50)
	// The recorder reads the scaled clock after the tick did, a few milliseconds of wall time
	// later under load (×15 in pass time). The downlink frequency falls monotonically through
	// a pass, so each set value must lie between the expected values at the recorded time and
	// up to 2 s of pass time earlier (±1 Hz).
	want := func(at time.Time) float64 {
		if at.Before(p.AOS) {
			at = p.AOS
		}
		if at.After(p.LOS) {
			at = p.LOS
		}
		l, err := p.Target.Look(at)
		require.NoError(t, err)
		return orbit.DownlinkFrequency(p.Transmitter.DownlinkHz, l.RangeRateKmS)
	}
	for i, s := range sets {
		require.GreaterOrEqual(t, s.hz, want(s.t)-1, "retune %d at %s", i, s.t)
		require.LessOrEqual(t, s.hz, want(s.t.Add(-2*time.Second))+1, "retune %d at %s", i, s.t)
	}
	assert.LessOrEqual(t, sum.MaxDopplerErrorHz, 1.0, "rigctld keeps whole hertz")
	got, err := rig.Frequency(context.Background())
	require.NoError(t, err)
	assert.InDelta(t, sets[len(sets)-1].hz, got, 1.0)
	mode, pb, err := rig.Mode(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "FM", mode)
	assert.Equal(t, 15000, pb)
}

// checkParked: after LOS the dummy heads for its park position (0°, 0°).
func checkParked(t *testing.T, rot *rotator.Rotctld) {
	t.Helper()
	az1, el1, err := rot.Position(context.Background())
	require.NoError(t, err)
	time.Sleep(500 * time.Millisecond)
	az2, el2, err := rot.Position(context.Background())
	require.NoError(t, err)
	assert.True(t, az2 < az1 || az2 == 0, "moving toward park azimuth 0: %v then %v", az1, az2)
	assert.True(t, el2 <= el1, "moving toward park elevation 0: %v then %v", el1, el2)
}
