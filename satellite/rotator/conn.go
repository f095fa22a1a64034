package rotator

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode"

	"go.uber.org/zap"

	"github.com/talos-gs/talos/satellite/internal/backoff"
	"github.com/talos-gs/talos/satellite/internal/clock"
)

// ErrClosed is returned by calls on a client after Close.
var ErrClosed = errors.New("hamlib client closed")

// ConnOptions configures the connection to one rotctld or rigctld.
type ConnOptions struct {
	// Addr is the daemon's host:port, e.g. "127.0.0.1:4533" (rotctld) or ":4532" (rigctld).
	Addr string
	// DialTimeout bounds one connection attempt; default 3 s.
	DialTimeout time.Duration
	// CallTimeout is the deadline of a call whose ctx has none (or a later one); default 2 s.
	CallTimeout time.Duration
	// Backoff paces the Run loop's reconnects (capped exponential, full jitter); nil means
	// 500 ms growing to 30 s: a daemon restart on the station's own host is quick, and an
	// operator plugging the rotator back in should not wait minutes.
	Backoff *backoff.Backoff
	// Clock drives the Run loop's waits; nil means the system clock. Socket deadlines always use
	// the system clock (the kernel knows no other).
	Clock clock.Clock
	// Logger receives connection changes; nil means no logs.
	Logger *zap.Logger
	// Metrics counts requests and reconnects; nil means no metrics.
	Metrics *ClientMetrics
	// Dial opens the TCP connection; nil means a net.Dialer. Tests inject failures here.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

func (o ConnOptions) withDefaults() (ConnOptions, error) {
	if _, _, err := net.SplitHostPort(o.Addr); err != nil {
		return o, fmt.Errorf("addr %q: want host:port: %w", o.Addr, err)
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = 3 * time.Second
	}
	if o.CallTimeout <= 0 {
		o.CallTimeout = 2 * time.Second
	}
	if o.Backoff == nil {
		o.Backoff = &backoff.Backoff{Base: 500 * time.Millisecond, Max: 30 * time.Second}
	}
	if o.Backoff.Base <= 0 || o.Backoff.Max < o.Backoff.Base {
		return o, fmt.Errorf("backoff: base %s must be positive and max %s at least base", o.Backoff.Base, o.Backoff.Max)
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.Dial == nil {
		o.Dial = (&net.Dialer{}).DialContext
	}
	return o, nil
}

// exchangeFunc sends one command and reads its reply on a connection the caller holds.
type exchangeFunc func(ctx context.Context, name string, args ...string) (reply, error)

// conn is one request/response connection to a Hamlib daemon. The protocol has no request ids,
// so requests are serialised: sem is held for a whole exchange (and for a dial), and a reply
// that fails half-way drops the connection rather than leave an unread tail on it.
type conn struct {
	daemon string // "rotctld" or "rigctld", for errors, logs and metrics
	opts   ConnOptions
	log    *zap.Logger

	// onConnect runs right after each successful dial with the connection held (rotctld reads
	// its limits). It returns only errors that should drop the new connection.
	onConnect func(ctx context.Context, ex exchangeFunc) error

	sem chan struct{} // capacity 1: holds the right to use nc
	nc  net.Conn      // guarded by sem; nil while disconnected
	br  *bufio.Reader // guarded by sem

	mu        sync.Mutex
	connected bool
	closed    bool
	everUp    bool
	lost      chan struct{} // capacity 1: signalled when a live connection drops
}

func newConn(daemon string, opts ConnOptions) (*conn, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", daemon, err)
	}
	return &conn{
		daemon: daemon,
		opts:   opts,
		log:    opts.Logger.With(zap.String("daemon", daemon), zap.String("addr", opts.Addr)),
		sem:    make(chan struct{}, 1),
		lost:   make(chan struct{}, 1),
	}, nil
}

// Connected reports whether the client holds a live connection (as of the last exchange).
func (c *conn) Connected() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.connected
}

// call sends "+\name args..." and returns the parsed reply. A negative RPRT is returned as a
// *HamlibError alongside the reply. A call made while disconnected dials once, within its
// deadline; it never retries the command, because the caller (the 2 Hz tracker) will send a
// fresher one anyway.
func (c *conn) call(ctx context.Context, name string, args ...string) (reply, error) {
	if err := validArgs(args); err != nil {
		return reply{}, fmt.Errorf("%s %s: %w", c.daemon, name, err)
	}
	ctx, cancel := c.withDeadline(ctx)
	defer cancel()
	start := time.Now()
	if err := c.acquire(ctx); err != nil {
		if !errors.Is(err, ErrClosed) && !c.Connected() {
			// Queued behind a dial (Run's, or another call's) that outlived this deadline.
			err = fmt.Errorf("%w: %w", ErrDisconnected, err)
		}
		return reply{}, fmt.Errorf("%s %s: waiting for the connection: %w", c.daemon, name, err)
	}
	defer c.release()
	r, fresh, err := c.attemptLocked(ctx, name, args)
	if fresh && peerClosed(err) && ctx.Err() == nil {
		// Hamlib 4.5's daemons can close a just-accepted connection when another client of
		// theirs disconnects at the same moment (the old client's thread closes a descriptor
		// the new connection has reused). The daemon never read the command, so dial again,
		// once.
		c.log.Info("daemon closed a new connection before answering; dialling again", zap.Error(err))
		r, _, err = c.attemptLocked(ctx, name, args)
	}
	c.opts.Metrics.observe(c.daemon, name, err, time.Since(start))
	return r, err
}

// attemptLocked dials if needed (fresh reports that it did) and exchanges one command.
func (c *conn) attemptLocked(ctx context.Context, name string, args []string) (r reply, fresh bool, err error) {
	if c.nc == nil {
		fresh = true
		if err := c.connectLocked(ctx); err != nil {
			return reply{}, fresh, fmt.Errorf("%s %s: %w", c.daemon, name, err)
		}
	}
	r, err = c.exchangeLocked(ctx, name, args...)
	return r, fresh, err
}

// peerClosed reports a connection the daemon closed or reset (not a timeout, not a refused
// dial, not a bad reply).
func peerClosed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

func (c *conn) withDeadline(ctx context.Context) (context.Context, context.CancelFunc) {
	if d, ok := ctx.Deadline(); ok && time.Until(d) <= c.opts.CallTimeout {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, c.opts.CallTimeout)
}

func (c *conn) acquire(ctx context.Context) error {
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return ErrClosed
	}
	select {
	case c.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *conn) release() { <-c.sem }

// connectLocked dials the daemon (sem held) and runs onConnect.
func (c *conn) connectLocked(ctx context.Context) error {
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return ErrClosed
	}
	dctx, cancel := context.WithTimeout(ctx, c.opts.DialTimeout)
	defer cancel()
	nc, err := c.opts.Dial(dctx, "tcp", c.opts.Addr)
	if err != nil {
		return fmt.Errorf("connect %s: %w: %w", c.opts.Addr, ErrDisconnected, err)
	}
	c.nc, c.br = nc, bufio.NewReaderSize(nc, maxLineBytes)
	if c.onConnect != nil {
		if err := c.onConnect(ctx, c.exchangeLocked); err != nil {
			c.dropLocked(err)
			return fmt.Errorf("connect %s: %w", c.opts.Addr, err)
		}
	}
	c.mu.Lock()
	reconnect := c.everUp
	c.connected, c.everUp = true, true
	c.mu.Unlock()
	c.opts.Backoff.Reset()
	c.opts.Metrics.connected(c.daemon, true, reconnect)
	c.log.Info("connected to hamlib daemon", zap.Bool("reconnect", reconnect))
	return nil
}

// exchangeLocked writes one command and reads its reply (sem held, nc set). Any transport or
// framing failure drops the connection: after a timeout the reply may still arrive later and
// would be read as the answer to the next command.
func (c *conn) exchangeLocked(ctx context.Context, name string, args ...string) (reply, error) {
	nc := c.nc
	if nc == nil {
		return reply{}, fmt.Errorf("%s %s: %w", c.daemon, name, ErrDisconnected)
	}
	deadline, _ := ctx.Deadline()
	if err := nc.SetDeadline(deadline); err != nil {
		c.dropLocked(err)
		return reply{}, fmt.Errorf("%s %s: %w: %w", c.daemon, name, ErrDisconnected, err)
	}
	// Cancelling ctx (not only its deadline) must interrupt a blocked read. The flag, under its
	// own lock, keeps a late-running interrupt from hitting the next exchange's deadline.
	var (
		interruptMu sync.Mutex
		finished    bool
	)
	stop := context.AfterFunc(ctx, func() {
		interruptMu.Lock()
		defer interruptMu.Unlock()
		if !finished {
			_ = nc.SetDeadline(time.Unix(1, 0))
		}
	})
	defer func() {
		stop()
		interruptMu.Lock()
		finished = true
		interruptMu.Unlock()
	}()
	if _, err := io.WriteString(nc, commandLine(name, args)); err != nil {
		c.dropLocked(err)
		return reply{}, fmt.Errorf("%s %s: send: %w: %w", c.daemon, name, ErrDisconnected, err)
	}
	r, err := readReply(c.br, name)
	if err != nil {
		c.dropLocked(err)
		if errors.Is(err, ErrProtocol) {
			return reply{}, fmt.Errorf("%s %s: %w", c.daemon, name, err)
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			// The socket deadline is ctx's; say which way ctx ended (the socket may notice
			// a hair before ctx does).
			cause := ctx.Err()
			if cause == nil {
				cause = context.DeadlineExceeded
			}
			err = fmt.Errorf("%w (%w)", err, cause)
		}
		return reply{}, fmt.Errorf("%s %s: read reply: %w: %w", c.daemon, name, ErrDisconnected, err)
	}
	if err := r.err(); err != nil {
		return r, fmt.Errorf("%s %w", c.daemon, err) // "rotctld set_pos: hamlib error -1 (...)"
	}
	return r, nil
}

// dropLocked closes the connection (sem held) and wakes the Run loop.
func (c *conn) dropLocked(cause error) {
	if c.nc == nil {
		return
	}
	_ = c.nc.Close()
	c.nc, c.br = nil, nil
	c.mu.Lock()
	was := c.connected
	c.connected = false
	c.mu.Unlock()
	if was {
		c.opts.Metrics.connected(c.daemon, false, false)
		c.log.Warn("lost connection to hamlib daemon", zap.Error(cause))
		select {
		case c.lost <- struct{}{}:
		default:
		}
	}
}

// Run keeps the connection up until ctx ends or Close: whenever it is down, it waits a backoff delay
// (capped exponential, full jitter) on the injected clock and dials again. Calls work without
// Run (they dial on demand); Run makes the connection come back while nobody calls, so a
// Monitor sees recovery promptly and the first command after an outage does not pay for a dial.
func (c *conn) Run(ctx context.Context) error {
	for {
		c.mu.Lock()
		closed := c.closed
		c.mu.Unlock()
		if closed {
			return nil
		}
		if c.Connected() {
			select {
			case <-ctx.Done():
				return nil
			case <-c.lost:
			}
			continue
		}
		delay := c.opts.Backoff.Next()
		if err := clock.Wait(ctx, c.opts.Clock, delay); err != nil {
			return nil
		}
		if err := c.reconnect(ctx); err != nil {
			if errors.Is(err, ErrClosed) {
				return nil
			}
			c.log.Debug("reconnect failed", zap.Duration("after", delay), zap.Error(err))
		}
	}
}

func (c *conn) reconnect(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.opts.DialTimeout+c.opts.CallTimeout)
	defer cancel()
	if err := c.acquire(ctx); err != nil {
		return err
	}
	defer c.release()
	if c.nc != nil {
		return nil
	}
	return c.connectLocked(ctx)
}

// Close closes the connection; later calls fail with ErrClosed. It waits for a call in flight
// (bounded by that call's deadline).
func (c *conn) Close() error {
	if err := c.acquire(context.Background()); err != nil {
		return nil // already closed
	}
	defer c.release()
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	if c.nc == nil {
		return nil
	}
	err := c.nc.Close()
	c.nc, c.br = nil, nil
	c.mu.Lock()
	c.connected = false
	c.mu.Unlock()
	select { // wake Run, which then sees ErrClosed and returns
	case c.lost <- struct{}{}:
	default:
	}
	return err
}

func commandLine(name string, args []string) string {
	var b strings.Builder
	b.WriteString("+\\")
	b.WriteString(name)
	for _, a := range args {
		b.WriteByte(' ')
		b.WriteString(a)
	}
	b.WriteByte('\n')
	return b.String()
}

// validArgs refuses arguments that would break the line protocol: an argument with a space,
// newline or separator would be read as several arguments or several commands.
func validArgs(args []string) error {
	for i, a := range args {
		if a == "" || len(a) > 64 {
			return fmt.Errorf("argument %d: must be 1 to 64 characters", i+1)
		}
		for _, r := range a {
			if unicode.IsSpace(r) || unicode.IsControl(r) || r > unicode.MaxASCII || r == ';' || r == '|' || r == '\\' {
				return fmt.Errorf("argument %d %q: contains %q, not allowed in the Hamlib protocol", i+1, a, r)
			}
		}
	}
	return nil
}
