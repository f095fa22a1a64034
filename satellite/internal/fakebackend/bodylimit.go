package fakebackend

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/talos-gs/talos/backend/api"
)

// NewWithBodyLimit starts a fake backend that refuses any request body over limit bytes with
// 413, as the real backend does when TALOS_MAX_BODY_BYTES is set: a declared length over the
// limit at once, any other body once reading it passes the limit. Refused requests are counted
// as the operation "too_large" (see Requests), not as the operation they were meant for.
func NewWithBodyLimit(limit int64) *Backend {
	b := New()
	// New has started a server without the limit; no request can have reached it yet.
	b.Server.Close()
	b.Server = httptest.NewServer(b.limitBody(limit, b.routes()))
	return b
}

func (b *Backend) limitBody(limit int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > limit {
			b.refuseTooLarge(w)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			b.refuseTooLarge(w)
			return
		case err != nil:
			writeError(w, http.StatusBadRequest, api.ErrInvalidRequest, err.Error())
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(w, r)
	})
}

func (b *Backend) refuseTooLarge(w http.ResponseWriter) {
	b.mu.Lock()
	b.requests["too_large"]++
	b.mu.Unlock()
	writeError(w, http.StatusRequestEntityTooLarge, api.ErrBodyTooLarge, "the body exceeds the size limit (fake)")
}
