package catalog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"go.uber.org/zap"

	"github.com/talos-gs/talos/backend/store"
)

// Defaults of a Fetcher and of sources.
const (
	// DefaultInterval is a source's fetch interval when none is given: CelesTrak asks clients
	// not to fetch the same data more often than every two hours.
	DefaultInterval = 2 * time.Hour
	// MinInterval is the shortest interval a source may have.
	MinInterval = 10 * time.Minute
	// MaxInterval is the longest.
	MaxInterval = 30 * 24 * time.Hour
	// DefaultFetchEvery is how often the fetcher looks for due sources.
	DefaultFetchEvery = time.Minute
	// DefaultFetchTimeout bounds one fetch, connection to last byte.
	DefaultFetchTimeout = 2 * time.Minute
	// retryAfterFailure is how soon a failed source is tried again (at most its interval).
	retryAfterFailure = 15 * time.Minute
	// dueBatch bounds the sources one tick looks at.
	dueBatch = 20
)

// Source fetch outcomes (store.CatalogSource.LastStatus).
const (
	StatusOK          = "ok"
	StatusNotModified = "not_modified"
	StatusFailed      = "failed"
)

// ValidateSourceURL accepts only absolute http and https URLs with a host: a source must never
// make the backend read a local file or speak another protocol.
func ValidateSourceURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("not a URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("scheme %q: only http and https are fetched", u.Scheme)
	}
	if u.Host == "" {
		return errors.New("the URL has no host")
	}
	if u.User != nil {
		return errors.New("credentials in the URL are not allowed (they would be stored and shown)")
	}
	if len(raw) > 2048 {
		return errors.New("longer than 2048 characters")
	}
	return nil
}

// Fetcher fetches due sources into the catalog. Several replicas may run one each: a source is
// claimed with a conditional UPDATE before it is fetched, so only one replica fetches it.
type Fetcher struct {
	Catalog *Catalog
	// Client makes the requests (default: one with DefaultFetchTimeout). Redirects are followed
	// only to http(s) URLs.
	Client *http.Client
	// Every is how often due sources are looked for (default DefaultFetchEvery).
	Every time.Duration
	// Timeout bounds one fetch (default DefaultFetchTimeout).
	Timeout time.Duration
	// MaxBytes caps a response body (default MaxImportBytes).
	MaxBytes int64
}

func (f *Fetcher) defaults() {
	if f.Every <= 0 {
		f.Every = DefaultFetchEvery
	}
	if f.Timeout <= 0 {
		f.Timeout = DefaultFetchTimeout
	}
	if f.MaxBytes <= 0 {
		f.MaxBytes = MaxImportBytes
	}
	if f.Client == nil {
		f.Client = &http.Client{Timeout: f.Timeout, CheckRedirect: httpOnlyRedirects}
	}
}

func httpOnlyRedirects(req *http.Request, via []*http.Request) error {
	if len(via) >= 5 {
		return errors.New("more than 5 redirects")
	}
	return ValidateSourceURL(req.URL.String())
}

// Run fetches due sources at once and then every f.Every until ctx ends. Failures are recorded
// on the source, logged and counted; they never stop the loop.
func (f *Fetcher) Run(ctx context.Context) error {
	f.defaults()
	t := time.NewTicker(f.Every)
	defer t.Stop()
	for {
		if _, err := f.FetchDue(ctx); err != nil && ctx.Err() == nil {
			f.Catalog.Log.Warn("catalog fetch round failed", zap.Error(err))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// FetchDue fetches every source due at the catalog's clock that this replica manages to claim,
// one after the other, and returns how many it fetched.
func (f *Fetcher) FetchDue(ctx context.Context) (int, error) {
	f.defaults()
	now := f.Catalog.now()
	due, err := f.Catalog.Store.DueCatalogSources(ctx, now, dueBatch)
	if err != nil {
		return 0, err
	}
	n := 0
	for i := range due {
		src := &due[i]
		// The claim holds the source for the longest a fetch and its import may take; a replica
		// dying mid-fetch releases it when that passes.
		won, err := f.Catalog.Store.ClaimCatalogSource(ctx, src, now.Add(2*f.Timeout+time.Minute))
		if err != nil {
			return n, err
		}
		if !won {
			continue
		}
		if err := f.fetchOne(ctx, src, now); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// fetchOne fetches a claimed source and records the outcome. Only a database failure is
// returned; a fetch failure is the source's state, not the loop's.
func (f *Fetcher) fetchOne(ctx context.Context, src *store.CatalogSource, now time.Time) error {
	log := f.Catalog.Log.With(zap.String("source_id", src.ID), zap.String("source", src.Name))
	res := store.FetchResult{At: now, Next: now.Add(src.Interval()), Status: StatusOK}
	body, etag, modified, err := f.get(ctx, src)
	switch {
	case err != nil:
		res.Status, res.Error = StatusFailed, truncate(err.Error(), 500)
		res.Next = now.Add(min(src.Interval(), retryAfterFailure))
	case body == nil:
		res.Status = StatusNotModified
	default:
		res.ETag, res.LastModified = etag, modified
		if err := f.importBody(ctx, src, body); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			res.Status, res.Error = StatusFailed, truncate(err.Error(), 500)
			res.Next = now.Add(min(src.Interval(), retryAfterFailure))
			res.ETag, res.LastModified = "", ""
		}
	}
	f.Catalog.Metrics.fetched(res.Status)
	if res.Status == StatusFailed {
		log.Warn("catalog source fetch failed; the last good element sets stay current", zap.String("error", res.Error))
		if err := f.Catalog.event(ctx, src.TeamID, &store.CatalogEvent{Type: EventFetchFailed, Severity: "warning",
			SourceID: src.ID, Message: fmt.Sprintf("fetch of %s failed: %s", src.Name, res.Error)}); err != nil {
			return err
		}
	}
	return f.Catalog.Store.FinishCatalogFetch(ctx, src.ID, res)
}

// get performs the conditional GET. A 304 returns a nil body.
func (f *Fetcher) get(ctx context.Context, src *store.CatalogSource) (body []byte, etag, modified string, err error) {
	if err := ValidateSourceURL(src.URL); err != nil {
		return nil, "", "", err
	}
	ctx, cancel := context.WithTimeout(ctx, f.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, src.URL, nil)
	if err != nil {
		return nil, "", "", fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("User-Agent", "talos-backend catalog fetcher")
	if src.ETag != "" {
		req.Header.Set("If-None-Match", src.ETag)
	}
	if src.LastModified != "" {
		req.Header.Set("If-Modified-Since", src.LastModified)
	}
	resp, err := f.Client.Do(req)
	if err != nil {
		return nil, "", "", fmt.Errorf("GET: %w", err)
	}
	defer func() { _ = resp.Body.Close() }() // a read-only body; nothing to report on close
	switch {
	case resp.StatusCode == http.StatusNotModified:
		return nil, "", "", nil
	case resp.StatusCode != http.StatusOK:
		return nil, "", "", fmt.Errorf("GET: HTTP %d", resp.StatusCode)
	}
	body, err = io.ReadAll(io.LimitReader(resp.Body, f.MaxBytes+1))
	if err != nil {
		return nil, "", "", fmt.Errorf("read body: %w", err)
	}
	if int64(len(body)) > f.MaxBytes {
		return nil, "", "", fmt.Errorf("the body exceeds %d bytes", f.MaxBytes)
	}
	return body, truncate(resp.Header.Get("ETag"), 200), truncate(resp.Header.Get("Last-Modified"), 100), nil
}

// importBody imports a fetched body. A body with no good record at all counts as a failed fetch
// (a portal's error page, an empty answer): the validators are then not kept, so the next fetch
// asks again in full.
func (f *Fetcher) importBody(ctx context.Context, src *store.CatalogSource, body []byte) error {
	teamID := ""
	if src.TeamID != nil {
		teamID = *src.TeamID
	}
	rep, err := f.Catalog.Import(ctx, ImportRequest{TeamID: teamID, Source: src.Name, Format: Format(src.Format), Data: body})
	if err != nil {
		return err
	}
	if rep.Records > 0 && rep.Rejected == rep.Records {
		return fmt.Errorf("no valid record in the answer (%d rejected; first: %s)", rep.Rejected, rep.Errors[0].Error())
	}
	if rep.Records == 0 {
		return errors.New("the answer holds no record")
	}
	if rep.Rejected > 0 {
		return f.Catalog.event(ctx, src.TeamID, &store.CatalogEvent{Type: EventRecordsRejected, Severity: "warning",
			SourceID: src.ID, Message: fmt.Sprintf("%s: %d of %d records rejected; first: %s",
				src.Name, rep.Rejected, rep.Records, rep.Errors[0].Error())})
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
