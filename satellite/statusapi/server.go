package statusapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
)

// DefaultListen is the endpoint's default address.
const DefaultListen = "127.0.0.1:7373"

// Server serves the status endpoint.
type Server struct {
	listen   string
	health   *Health
	snapshot func() Status
	gatherer prometheus.Gatherer
	log      *zap.Logger

	mu   sync.Mutex
	ln   net.Listener // bound by Listen, served by Run
	addr net.Addr
	up   chan struct{}
}

// Options build a Server.
type Options struct {
	// Listen is host:port on a loopback address; port 0 picks a free port.
	Listen   string
	Health   *Health
	Snapshot func() Status
	Gatherer prometheus.Gatherer
	Logger   *zap.Logger
}

// New checks the address and builds the server.
func New(opts Options) (*Server, error) {
	if err := CheckLoopback(opts.Listen); err != nil {
		return nil, err
	}
	s := &Server{listen: opts.Listen, health: opts.Health, snapshot: opts.Snapshot, gatherer: opts.Gatherer,
		log: opts.Logger, up: make(chan struct{})}
	if s.log == nil {
		s.log = zap.NewNop()
	}
	return s, nil
}

// CheckLoopback refuses any address that is not on the loopback interface: the endpoint has no
// authentication and must never be reachable from the network.
func CheckLoopback(listen string) error {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return fmt.Errorf("status.listen %q: want host:port: %w", listen, err)
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("status.listen %q: the status endpoint binds to a loopback address only (127.0.0.1 or ::1)", listen)
	}
	return nil
}

// Addr returns the bound address once the server is up (nil before).
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Ready is closed once the server listens.
func (s *Server) Ready() <-chan struct{} { return s.up }

// Listen binds the address now, so a port already in use fails at start-up, before the
// station builds or announces anything; Run then serves on it. Close releases it if Run never
// runs.
func (s *Server) Listen(ctx context.Context) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.listen)
	if err != nil {
		return fmt.Errorf("status endpoint: listen on %s: %w", s.listen, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ln, s.addr = ln, ln.Addr()
	return nil
}

// Close releases the listener bound by Listen when Run will not serve it.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	err := s.ln.Close()
	s.ln = nil
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// Run serves until ctx is done, on the listener Listen bound (or binding it now).
func (s *Server) Run(ctx context.Context) error {
	ln, err := s.listener(ctx)
	if err != nil {
		return err
	}
	close(s.up)
	srv := &http.Server{Handler: s.routes(), ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	s.log.Info("status endpoint listening", zap.String("addr", ln.Addr().String()))
	select {
	case err := <-errc:
		return fmt.Errorf("status endpoint: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("status endpoint: shutdown: %w", err)
	}
	return nil
}

// listener returns the listener Listen bound, binding it now if Listen was not called.
func (s *Server) listener(ctx context.Context) (net.Listener, error) {
	s.mu.Lock()
	ln := s.ln
	s.mu.Unlock()
	if ln != nil {
		return ln, nil
	}
	if err := s.Listen(ctx); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ln, nil
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/status/backend", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, s.health.Snapshot())
	})
	mux.HandleFunc("GET /api/status", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, s.snapshot())
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.gatherer, promhttp.HandlerOpts{}))
	return mux
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
