package rotator

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/satellite/internal/integration"
)

// daemon is a real rotctld or rigctld (Hamlib's dummy model) run for one test.
type daemon struct {
	t      testing.TB
	bin    string
	args   []string
	port   int
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has exited and been reaped
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
// answers. Cleanup kills it. The port is free when chosen but may be taken before the daemon
// binds it (tests of other packages run at the same time), so a daemon that exits at start is
// retried on another port.
func startDaemon(t testing.TB, bin string, extra ...string) *daemon {
	t.Helper()
	d := &daemon{t: t, bin: requireBinary(t, bin), args: extra}
	t.Cleanup(d.kill)
	for attempt := 1; ; attempt++ {
		d.port = freePort(t)
		err := d.tryStart()
		if err == nil {
			return d
		}
		if attempt == 5 {
			t.Fatalf("start %s: %v", bin, err)
		}
		t.Logf("start %s: %v; trying another port", bin, err)
	}
}

func (d *daemon) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(d.port)) }

// start starts the daemon again on the same port (after kill).
func (d *daemon) start() {
	d.t.Helper()
	require.NoError(d.t, d.tryStart())
}

// tryStart starts the daemon and waits until this very process listens on the port and answers
// a command. Checking the listener's owner matters: a daemon that failed to bind exits, and a
// probe alone could be answered by another test's daemon on the same port.
func (d *daemon) tryStart() error {
	args := append([]string{"-m", "1", "-T", "127.0.0.1", "-t", strconv.Itoa(d.port)}, d.args...)
	cmd := exec.Command(d.bin, args...)
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	d.cmd, d.exited = cmd, exited
	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case <-exited:
			d.cmd = nil
			return fmt.Errorf("%s exited at start on port %d (port taken?)", d.bin, d.port)
		default:
		}
		err := errors.New("not listening yet")
		if ownsListener(cmd.Process.Pid, d.port) {
			err = d.probe()
		}
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			d.kill()
			return fmt.Errorf("%s on %s did not answer: %w", d.bin, d.addr(), err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ownsListener reports whether process pid holds the listening socket on 127.0.0.1:port, from
// /proc (Linux). Where /proc/net/tcp cannot be read it answers true and the probe decides.
func ownsListener(pid, port int) bool {
	table, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		return true
	}
	local := fmt.Sprintf("0100007F:%04X", port)
	inode := ""
	for _, line := range strings.Split(string(table), "\n") {
		f := strings.Fields(line)
		if len(f) > 9 && f[1] == local && f[3] == "0A" { // 0A: LISTEN
			inode = f[9]
		}
	}
	if inode == "" {
		return false
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return false
	}
	for _, fd := range fds {
		link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if err == nil && link == "socket:["+inode+"]" {
			return true
		}
	}
	return false
}

// probe completes one command exchange, proving the daemon answers. (Its disconnect can make
// rigctld 4.5.4 close the test's next connection — see peerClosed in conn.go — which the client
// absorbs by dialling again once.)
func (d *daemon) probe() error {
	c, err := net.DialTimeout("tcp", d.addr(), time.Second)
	if err != nil {
		return err
	}
	defer func() { _ = c.Close() }()
	if err := c.SetDeadline(time.Now().Add(2 * time.Second)); err != nil {
		return err
	}
	cmd := "get_info"
	if filepath.Base(d.bin) == "rigctld" {
		cmd = "get_vfo"
	}
	if _, err := io.WriteString(c, "+\\"+cmd+"\n"); err != nil {
		return err
	}
	_, err = readReply(bufio.NewReader(c), cmd)
	return err
}

// kill stops the daemon with SIGKILL, as a crash would, and waits until it is reaped.
func (d *daemon) kill() {
	if d.cmd == nil {
		return
	}
	_ = d.cmd.Process.Signal(syscall.SIGKILL)
	<-d.exited
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
