package rotator

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/satellite/internal/integration"
)

// daemon is a real rotctld or rigctld (Hamlib's dummy model) run for one test.
type daemon struct {
	t    testing.TB
	bin  string
	args []string
	port int
	cmd  *exec.Cmd
}

// requireBinary skips (or, under TALOS_REQUIRE_INTEGRATION=1, fails) when bin is missing.
func requireBinary(t testing.TB, bin string) string {
	t.Helper()
	path, err := exec.LookPath(bin)
	if err != nil {
		integration.Skip(t, fmt.Sprintf("%s not installed (Debian package libhamlib-utils): %v", bin, err))
	}
	return path
}

// startDaemon runs `bin -m 1 -T 127.0.0.1 -t PORT extra...` on a free port and waits until it
// accepts connections. Cleanup kills it.
func startDaemon(t testing.TB, bin string, extra ...string) *daemon {
	t.Helper()
	d := &daemon{t: t, bin: requireBinary(t, bin), args: extra, port: freePort(t)}
	d.start()
	t.Cleanup(d.kill)
	return d
}

func (d *daemon) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(d.port)) }

func (d *daemon) start() {
	d.t.Helper()
	args := append([]string{"-m", "1", "-T", "127.0.0.1", "-t", strconv.Itoa(d.port)}, d.args...)
	d.cmd = exec.Command(d.bin, args...)
	require.NoError(d.t, d.cmd.Start())
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", d.addr(), time.Second)
		if err == nil {
			_ = c.Close()
			return
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("%s on %s did not accept connections: %v", d.bin, d.addr(), err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill stops the daemon with SIGKILL, as a crash would, and reaps it.
func (d *daemon) kill() {
	if d.cmd == nil || d.cmd.Process == nil {
		return
	}
	_ = d.cmd.Process.Signal(syscall.SIGKILL)
	_ = d.cmd.Wait()
	d.cmd = nil
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port
}

// eventually polls f until it returns nil or the (generous) deadline passes. Used to wait for
// the dummy rotator, which slews at a few degrees per second; it bounds a failure, it does not
// measure speed.
func eventually(t *testing.T, timeout time.Duration, f func() error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var last error
	for {
		if last = f(); last == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("condition not met within %s: %v", timeout, errors.Join(last, ctx.Err()))
		case <-time.After(50 * time.Millisecond):
		}
	}
}
