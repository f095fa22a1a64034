package e2e

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	"golang.org/x/time/rate"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/backend/server/servertest"
	"github.com/talos-gs/talos/backend/store"
	"github.com/talos-gs/talos/satellite/client"
	"github.com/talos-gs/talos/satellite/state"
	"github.com/talos-gs/talos/satellite/upload"
)

// linkProxy is a TCP proxy on loopback standing for a station's poor link: bytes towards the
// backend go through a token bucket of rateBytes per second, and every dropEvery all its
// connections are cut (0: never).
type linkProxy struct {
	ln        net.Listener
	target    string
	lim       *rate.Limiter
	dropEvery time.Duration

	mu    sync.Mutex
	conns map[net.Conn]bool
	drops atomic.Int64
	// upstream counts the bytes forwarded towards the backend (requests, headers included).
	upstream atomic.Int64
}

func startLinkProxy(tb testing.TB, target string, rateBytes int, dropEvery time.Duration) *linkProxy {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	p := &linkProxy{ln: ln, target: target, dropEvery: dropEvery, conns: map[net.Conn]bool{}}
	if rateBytes > 0 {
		p.lim = rate.NewLimiter(rate.Limit(rateBytes), 16<<10)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go p.accept()
	if dropEvery > 0 {
		go p.dropLoop(ctx)
	}
	tb.Cleanup(func() {
		cancel()
		_ = ln.Close()
		p.dropAll()
	})
	return p
}

func (p *linkProxy) url() string { return "http://" + p.ln.Addr().String() }

func (p *linkProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.serve(c)
	}
}

func (p *linkProxy) serve(c net.Conn) {
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		_ = c.Close()
		return
	}
	p.mu.Lock()
	p.conns[c], p.conns[up] = true, true
	p.mu.Unlock()
	go func() { _, _ = io.Copy(c, up); _ = c.Close() }()
	n, _ := io.Copy(up, &paced{r: c, lim: p.lim})
	p.upstream.Add(n)
	_ = up.Close()
}

func (p *linkProxy) dropLoop(ctx context.Context) {
	t := time.NewTicker(p.dropEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			p.dropAll()
		}
	}
}

func (p *linkProxy) dropAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		_ = c.Close()
	}
	if len(p.conns) > 0 {
		p.drops.Add(1)
	}
	p.conns = map[net.Conn]bool{}
}

// paced reads through a token bucket (nil: unpaced).
type paced struct {
	r   io.Reader
	lim *rate.Limiter
}

func (p *paced) Read(b []byte) (int, error) {
	if p.lim != nil && len(b) > p.lim.Burst() {
		b = b[:p.lim.Burst()]
	}
	n, err := p.r.Read(b)
	if n > 0 && p.lim != nil {
		if werr := p.lim.WaitN(context.Background(), n); werr != nil {
			return n, werr
		}
	}
	return n, err
}

// BenchmarkUploadWithPolls uploads one file through the real backend while the same station
// short-polls for commands every 100 ms, and reports the upload's throughput and the polls'
// latency (p50, p99, max): loopback, and through a 1 Mbit/s link cut every 10 s, with and
// without the station's own upload cap (uploads.rate_bytes) below the link's rate. Run with
// -benchtime=1x (one upload per run):
//
//	go test -run '^$' -bench UploadWithPolls -benchtime=1x ./backend/e2e/
func BenchmarkUploadWithPolls(b *testing.B) {
	cases := []struct {
		name      string
		size      int
		rateBytes int
		dropEvery time.Duration
		// capBytes is the station's own upload cap (uploads.rate_bytes), 0 none.
		capBytes int64
	}{
		{"loopback", 256 << 20, 0, 0, 0},
		{"1Mbit-cut-every-10s", 3 << 20, 125_000, 10 * time.Second, 0},
		{"1Mbit-cut-every-10s-capped-100kB", 3 << 20, 125_000, 10 * time.Second, 100_000},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			for range b.N {
				benchUpload(b, c.size, c.rateBytes, c.dropEvery, c.capBytes)
			}
		})
	}
}

func benchUpload(b *testing.B, size, rateBytes int, dropEvery time.Duration, capBytes int64) {
	be := startBackend(b, store.SQLite, storeURL(b), withArtifacts(b, b.TempDir()))
	c := seed(b, be)
	dir, id := register(b, be.URL, c.registrationToken(b), "bench")
	_, key, err := state.LoadIdentity(dir)
	if err != nil {
		b.Fatal(err)
	}
	base := be.URL
	var proxy *linkProxy
	if rateBytes > 0 || dropEvery > 0 {
		proxy = startLinkProxy(b, be.addr, rateBytes, dropEvery)
		base = proxy.url()
	}
	obsID := "bench-obs"
	servertest.SendObservation(b, be.store(), id, c.team.ID, obsID)

	pollC, err := client.New(client.Options{BaseURL: base, APIKey: key, Timeout: 30 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	upC, err := pollC.ForUploads()
	if err != nil {
		b.Fatal(err)
	}
	out := filepath.Join(b.TempDir(), "out")
	if err := os.MkdirAll(out, 0o700); err != nil {
		b.Fatal(err)
	}
	data := make([]byte, size)
	_, _ = rand.Read(data)
	if err := os.WriteFile(filepath.Join(out, "pass.cf32"), data, 0o600); err != nil {
		b.Fatal(err)
	}
	u, err := upload.Open(upload.Options{Dir: b.TempDir(), Backend: client.Satellite{Client: upC, ID: id},
		Logger: zaptest.NewLogger(b).Named("uploads"), Settings: upload.Settings{ChunkBytes: 4 << 20, RateBytes: capBytes}})
	if err != nil {
		b.Fatal(err)
	}
	if err := u.CloseDir(upload.Dir{Path: out, Source: api.SourceObservation, SourceID: obsID, Team: c.team.ID}); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	sat := client.Satellite{Client: pollC, ID: id}
	var lat []time.Duration
	var pollErrs int
	polled := make(chan struct{})
	go func() {
		defer close(polled)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			start := time.Now()
			if _, _, err := sat.Poll(ctx, 0, time.Time{}); err != nil {
				if ctx.Err() != nil {
					return
				}
				pollErrs++
			} else {
				lat = append(lat, time.Since(start))
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	b.ResetTimer()
	start := time.Now()
	go func() { done <- u.Run(ctx) }()
	for {
		es, err := u.Entries()
		if err == nil && len(es) == 1 && es[0].State == upload.StateUploaded {
			break
		}
		if time.Since(start) > 10*time.Minute {
			b.Fatal("upload did not finish within 10 minutes")
		}
		time.Sleep(20 * time.Millisecond) // a benchmark's own pacing; no assertion rests on it
	}
	elapsed := time.Since(start)
	b.StopTimer()
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		b.Fatal(err)
	}
	<-polled
	_ = u.Close()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	if len(lat) == 0 {
		b.Fatal("no poll succeeded")
	}
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(float64(size)/elapsed.Seconds()/1e6, "MB/s")
	b.ReportMetric(pct(0.5), "poll-p50-ms")
	b.ReportMetric(pct(0.99), "poll-p99-ms")
	b.ReportMetric(pct(1), "poll-max-ms")
	b.ReportMetric(float64(len(lat)), "polls")
	b.ReportMetric(float64(pollErrs), "poll-errors")
	if proxy != nil {
		b.ReportMetric(float64(proxy.drops.Load()), "link-cuts")
	}
}

// storeURL is a fresh SQLite database for a benchmark.
func storeURL(tb testing.TB) string { return filepath.Join(tb.TempDir(), "talos.db") }
