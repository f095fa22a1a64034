package rotator

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/satellite/internal/backoff"
	"github.com/talos-gs/talos/satellite/internal/clock"
)

// fakeDaemon is a TCP server that answers each command line with whatever handle writes: the
// tests fake the server, never the client, so every byte crosses a real socket.
type fakeDaemon struct {
	ln    net.Listener
	conns atomic.Int32
}

func newFakeDaemon(t *testing.T, handle func(w net.Conn, line string)) *fakeDaemon {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	f := &fakeDaemon{ln: ln}
	var wg sync.WaitGroup
	t.Cleanup(func() { _ = ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			f.conns.Add(1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { _ = c.Close() }()
				br := bufio.NewReader(c)
				for {
					line, err := br.ReadString('\n')
					if err != nil {
						return
					}
					handle(c, strings.TrimRight(line, "\n"))
				}
			}()
		}
	}()
	return f
}

func (f *fakeDaemon) addr() string { return f.ln.Addr().String() }

// echoGetPos answers get_pos with a fixed position and everything else with RPRT 0.
func echoGetPos(w net.Conn, line string) {
	name, args, _ := strings.Cut(strings.TrimPrefix(line, "+\\"), " ")
	if name == "get_pos" {
		_, _ = fmt.Fprint(w, "get_pos:\nAzimuth: 12.50\nElevation: 34.25\nRPRT 0\n")
		return
	}
	_, _ = fmt.Fprintf(w, "%s: %s\nRPRT 0\n", name, args)
}

func newFakeRotctld(t *testing.T, addr string, timeout time.Duration) *Rotctld {
	t.Helper()
	r, err := NewRotctld(RotctldOptions{ConnOptions: ConnOptions{Addr: addr, CallTimeout: timeout}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.Close() })
	return r
}

func TestProtocolEdgeCases(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		reply   func(w net.Conn)
		wantErr error  // nil: success with az 12.5, el 34.25
		wantMsg string // part of the error message
		dropped bool   // the stream is broken, so the connection must be dropped
	}{
		{"reply in fragments", func(w net.Conn) {
			for _, part := range []string{"get_p", "os:\nAzim", "uth: 12.5", "0\r\nElevation: 34.25\nRP", "RT 0", "\n"} {
				_, _ = io.WriteString(w, part)
				time.Sleep(5 * time.Millisecond)
			}
		}, nil, "", false},
		{"garbage", func(w net.Conn) { _, _ = io.WriteString(w, "hello there\n") }, ErrProtocol, `starts with "hello there"`, true},
		{"reply to another command", func(w net.Conn) { _, _ = io.WriteString(w, "set_pos: 1 2\nRPRT 0\n") }, ErrProtocol, "get_pos", true},
		{"no RPRT, then silence", func(w net.Conn) { _, _ = io.WriteString(w, "get_pos:\nAzimuth: 1\nElevation: 2\n") }, ErrDisconnected, "timeout", true},
		{"no RPRT, then close", func(w net.Conn) {
			_, _ = io.WriteString(w, "get_pos:\nAzimuth: 1\n")
			_ = w.Close()
		}, ErrDisconnected, "EOF", true},
		{"bare RPRT", func(w net.Conn) { _, _ = io.WriteString(w, "RPRT -4\n") }, ErrNotImplemented, "function not implemented", false},
		{"device timeout", func(w net.Conn) { _, _ = io.WriteString(w, "get_pos:\nRPRT -5\n") }, ErrDeviceTimeout, "timed out", false},
		{"positive RPRT", func(w net.Conn) { _, _ = io.WriteString(w, "get_pos:\nRPRT 3\n") }, ErrProtocol, "bad result line", true},
		{"RPRT not a number", func(w net.Conn) { _, _ = io.WriteString(w, "get_pos:\nRPRT x\n") }, ErrProtocol, "bad result line", true},
		{"value not a number", func(w net.Conn) {
			_, _ = io.WriteString(w, "get_pos:\nAzimuth: north\nElevation: 2\nRPRT 0\n")
		}, ErrProtocol, `"Azimuth"="north"`, false},
		{"missing value", func(w net.Conn) { _, _ = io.WriteString(w, "get_pos:\nAzimuth: 1\nRPRT 0\n") }, ErrProtocol, "Elevation", false},
		{"endless line", func(w net.Conn) {
			_, _ = io.WriteString(w, "get_pos:"+strings.Repeat("x", 10000)+"\n")
		}, ErrProtocol, "longer than", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeDaemon(t, func(w net.Conn, line string) {
				if strings.HasPrefix(line, "+\\dump_") || strings.HasPrefix(line, "+\\get_info") {
					_, _ = fmt.Fprint(w, "RPRT -11\n")
					return
				}
				tt.reply(w)
			})
			r := newFakeRotctld(t, f.addr(), 300*time.Millisecond)
			az, el, err := r.Position(context.Background())
			if tt.wantErr == nil {
				require.NoError(t, err)
				assert.Equal(t, []float64{12.5, 34.25}, []float64{az, el})
				return
			}
			require.ErrorIs(t, err, tt.wantErr)
			assert.Contains(t, err.Error(), tt.wantMsg)
			assert.Contains(t, err.Error(), "rotctld get_pos")
			assert.Equal(t, !tt.dropped, r.Connected(), "a broken stream is dropped, a bad value is not")
		})
	}
}

// TestLateReplyIsNeverReadAsTheNext: after a timeout the daemon's late reply must not be taken
// as the answer to the next command; the connection is replaced.
func TestLateReplyIsNeverReadAsTheNext(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	f := newFakeDaemon(t, func(w net.Conn, line string) {
		if strings.HasPrefix(line, "+\\dump_") {
			_, _ = fmt.Fprint(w, "RPRT -11\n")
			return
		}
		if calls.Add(1) == 1 {
			time.Sleep(400 * time.Millisecond)
			_, _ = fmt.Fprint(w, "get_pos:\nAzimuth: 99\nElevation: 99\nRPRT 0\n")
			return
		}
		echoGetPos(w, line)
	})
	r := newFakeRotctld(t, f.addr(), 5*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, _, err := r.Position(ctx)
	require.ErrorIs(t, err, ErrDisconnected)
	require.ErrorIs(t, err, context.DeadlineExceeded)

	az, el, err := r.Position(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []float64{12.5, 34.25}, []float64{az, el})
	assert.Equal(t, int32(2), f.conns.Load())
}

func TestCancelInterruptsACall(t *testing.T) {
	t.Parallel()
	f := newFakeDaemon(t, func(w net.Conn, line string) {
		if strings.HasPrefix(line, "+\\dump_") {
			_, _ = fmt.Fprint(w, "RPRT -11\n")
		} // everything else: never answered
	})
	r := newFakeRotctld(t, f.addr(), time.Minute)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, _, err := r.Position(ctx); done <- err }()
	time.Sleep(50 * time.Millisecond)
	cancel()
	err := <-done
	require.ErrorIs(t, err, context.Canceled)
	assert.False(t, IsFault(err), "a caller giving up is not a device fault")
}

// TestConcurrentCallsGetTheirOwnReplies runs many goroutines on one client; each must see the
// echo of its own command, which fails if requests interleave on the socket.
func TestConcurrentCallsGetTheirOwnReplies(t *testing.T) {
	t.Parallel()
	f := newFakeDaemon(t, echoGetPos)
	c, err := newConn("rotctld", ConnOptions{Addr: f.addr()})
	require.NoError(t, err)
	defer func() { _ = c.Close() }()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				want := fmt.Sprintf("%d.000 %d.000", g, i)
				rep, err := c.call(context.Background(), "set_pos", fmt.Sprintf("%d.000", g), fmt.Sprintf("%d.000", i))
				if !assert.NoError(t, err) || !assert.Equal(t, want, rep.Echo) {
					return
				}
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, int32(1), f.conns.Load(), "one connection")
}

func TestArgumentsCannotInjectCommands(t *testing.T) {
	t.Parallel()
	c, err := newConn("rigctld", ConnOptions{Addr: "127.0.0.1:1"})
	require.NoError(t, err)
	for _, arg := range []string{"", "a b", "1\n+\\set_pos 0 0", "x;y", "x|y", "\\park", "é", strings.Repeat("9", 65)} {
		_, err := c.call(context.Background(), "set_mode", arg, "0")
		require.Error(t, err, "%q", arg)
		assert.NotErrorIs(t, err, ErrDisconnected, "refused before dialling: %q", arg)
	}
}

func TestLimitsFallBack(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		dumpState  string
		dumpCaps   string
		want       Limits
		fromDevice bool
	}{
		{"dump_state", "dump_state:\nMinimum Azimuth: -180.000000\nMaximum Azimuth: 180.000000\nMinimum Elevation: 0.000000\nMaximum Elevation: 90.000000\ndone\nRPRT 0\n",
			"RPRT -11\n", Limits{-180, 180, 0, 90}, true},
		{"dump_caps when dump_state is refused", "RPRT -4\n",
			"dump_caps:\nCaps dump for model:\t603\nMin Azimuth:\t\t0.00\nMax Azimuth:\t\t450.00\nMin Elevation:\t\t0.00\nMax Elevation:\t\t180.00\nRPRT 0\n",
			Limits{0, 450, 0, 180}, true},
		{"dump_caps when dump_state is nonsense", "dump_state:\nMinimum Azimuth: 10\nMaximum Azimuth: 5\nRPRT 0\n",
			"dump_caps:\nMin Azimuth:\t0\nMax Azimuth:\t360\nMin Elevation:\t0\nMax Elevation:\t90\nRPRT 0\n",
			Limits{0, 360, 0, 90}, true},
		{"configured when neither tells", "RPRT -4\n", "RPRT -4\n", Limits{0, 360, 0, 90}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeDaemon(t, func(w net.Conn, line string) {
				switch line {
				case "+\\dump_state":
					_, _ = io.WriteString(w, tt.dumpState)
				case "+\\dump_caps":
					_, _ = io.WriteString(w, tt.dumpCaps)
				default:
					echoGetPos(w, line)
				}
			})
			r := newFakeRotctld(t, f.addr(), time.Second)
			require.NoError(t, r.Connect(context.Background()))
			assert.Equal(t, tt.want, r.Limits())
			assert.Equal(t, tt.fromDevice, r.LimitsFromDevice())
		})
	}
}

// TestLimitsWithoutDumpState: a daemon that never answers dump_state (an unknown command gets
// no reply from rotctld) costs one failed connect; later connects use dump_caps.
func TestLimitsWithoutDumpState(t *testing.T) {
	t.Parallel()
	f := newFakeDaemon(t, func(w net.Conn, line string) {
		switch line {
		case "+\\dump_state": // silence
		case "+\\dump_caps":
			_, _ = io.WriteString(w, "dump_caps:\nMin Azimuth:\t-180\nMax Azimuth:\t180\nMin Elevation:\t0\nMax Elevation:\t90\nRPRT 0\n")
		default:
			echoGetPos(w, line)
		}
	})
	r := newFakeRotctld(t, f.addr(), 200*time.Millisecond)
	err := r.Connect(context.Background())
	require.ErrorIs(t, err, ErrDisconnected)
	require.NoError(t, r.Connect(context.Background()))
	assert.Equal(t, Limits{-180, 180, 0, 90}, r.Limits())
}

// TestRunBackoff drives the reconnect loop on a fake clock: delays follow the capped doubling
// (scaled by the injected jitter draw), and a successful connect resets them.
func TestRunBackoff(t *testing.T) {
	t.Parallel()
	f := newFakeDaemon(t, echoGetPos)
	var refuse atomic.Bool
	refuse.Store(true)
	dials := make(chan struct{}, 100)
	clk := clock.NewFake(epoch)
	c, err := newConn("rotctld", ConnOptions{
		Addr:    f.addr(),
		Clock:   clk,
		Backoff: &backoff.Backoff{Base: 100 * time.Millisecond, Max: 400 * time.Millisecond, Rand: func() float64 { return 0.5 }},
		Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			dials <- struct{}{}
			if refuse.Load() {
				return nil, errors.New("connection refused (test)")
			}
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	})
	require.NoError(t, err)
	defer func() { _ = c.Close() }()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()

	// Ceilings 100, 200, 400, 400 ms; the draw 0.5 halves them.
	for i, want := range []time.Duration{50, 100, 200, 200} {
		require.NoError(t, clk.BlockUntil(ctx, 1))
		clk.Advance(want*time.Millisecond - time.Millisecond)
		assert.Empty(t, dials, "attempt %d too early", i+1)
		if i == 3 {
			refuse.Store(false)
		}
		clk.Advance(time.Millisecond)
		<-dials
	}
	require.Eventually(t, c.Connected, 5*time.Second, time.Millisecond)

	// Lose the connection: the first delay is back to the start of the sequence.
	c.acquireForTest(t)
	c.dropLocked(errors.New("test drop"))
	c.release()
	require.NoError(t, clk.BlockUntil(ctx, 1))
	clk.Advance(49 * time.Millisecond)
	assert.Empty(t, dials)
	clk.Advance(time.Millisecond)
	<-dials
	require.Eventually(t, c.Connected, 5*time.Second, time.Millisecond)
	cancel()
	require.NoError(t, <-done)
}

func (c *conn) acquireForTest(t *testing.T) {
	t.Helper()
	require.NoError(t, c.acquire(context.Background()))
}

func TestClosedClientRefusesCalls(t *testing.T) {
	t.Parallel()
	f := newFakeDaemon(t, echoGetPos)
	r := newFakeRotctld(t, f.addr(), time.Second)
	_, _, err := r.Position(context.Background())
	require.NoError(t, err)
	require.NoError(t, r.Close())
	_, _, err = r.Position(context.Background())
	require.ErrorIs(t, err, ErrClosed)
	require.NoError(t, r.Close(), "Close twice is harmless")
}

// TestQueuedBehindASlowDialIsDisconnected: a call that times out waiting behind a dial that
// hangs is a disconnection (a fault), not a mere timeout.
func TestQueuedBehindASlowDialIsDisconnected(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	c, err := newConn("rotctld", ConnOptions{Addr: "127.0.0.1:1", DialTimeout: time.Minute,
		Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			select {
			case <-release:
			case <-ctx.Done():
			}
			return nil, errors.New("unreachable (test)")
		}})
	require.NoError(t, err)
	first := make(chan error, 1)
	go func() {
		_, err := c.call(context.Background(), "get_pos") // holds the connection while dialling
		first <- err
	}()
	require.Eventually(t, func() bool { return len(c.sem) == 1 }, 5*time.Second, time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = c.call(ctx, "get_pos")
	require.ErrorIs(t, err, ErrDisconnected)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.True(t, IsFault(err))
	close(release)
	require.ErrorIs(t, <-first, ErrDisconnected)
}

// TestFreshConnectionClosedIsRedialledOnce: a daemon that closes a brand-new connection before
// answering (Hamlib 4.5's descriptor race) costs one extra dial, not a failed call; a second
// close in a row fails the call.
func TestFreshConnectionClosedIsRedialledOnce(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		closeFrom int32 // connections numbered from 1 up to this one are closed at once
		wantErr   bool
	}{
		{"first connection closed", 1, false},
		{"two in a row", 2, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var fp atomic.Pointer[fakeDaemon]
			f := newFakeDaemon(t, func(w net.Conn, line string) {
				if fp.Load().conns.Load() <= tt.closeFrom {
					_ = w.Close()
					return
				}
				echoGetPos(w, line)
			})
			fp.Store(f)
			c, err := newConn("rigctld", ConnOptions{Addr: f.addr()})
			require.NoError(t, err)
			defer func() { _ = c.Close() }()
			_, err = c.call(context.Background(), "set_freq", "145800000")
			if tt.wantErr {
				require.ErrorIs(t, err, ErrDisconnected)
			} else {
				require.NoError(t, err)
			}
			assert.Equal(t, int32(2), f.conns.Load())
		})
	}
}

func TestCloseStopsRun(t *testing.T) {
	t.Parallel()
	f := newFakeDaemon(t, echoGetPos)
	clk := clock.NewFake(epoch)
	r, err := NewRotctld(RotctldOptions{ConnOptions: ConnOptions{Addr: f.addr(), Clock: clk}})
	require.NoError(t, err)
	require.NoError(t, r.Connect(context.Background()))
	done := make(chan error, 1)
	go func() { done <- r.Run(context.Background()) }()
	require.NoError(t, r.Close())
	require.NoError(t, <-done, "Run returns on Close without the clock moving")
}

func TestOptionsValidation(t *testing.T) {
	t.Parallel()
	_, err := NewRotctld(RotctldOptions{ConnOptions: ConnOptions{Addr: "no-port"}})
	require.ErrorContains(t, err, "addr")
	_, err = NewRigctld(RigctldOptions{ConnOptions: ConnOptions{Addr: "h:1", Backoff: &backoff.Backoff{Base: time.Second, Max: time.Millisecond}}})
	require.ErrorContains(t, err, "backoff")
	_, err = NewRotctld(RotctldOptions{ConnOptions: ConnOptions{Addr: "h:1"}, Limits: Limits{MinAz: 5, MaxAz: 1, MaxEl: 90}})
	require.ErrorContains(t, err, "min_az")
}
