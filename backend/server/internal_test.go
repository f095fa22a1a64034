package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/backend/auth"
	"github.com/talos-gs/talos/backend/store"
	"github.com/talos-gs/talos/backend/store/storetest"
)

func newTestServer(t *testing.T) *Server {
	t.Helper()
	s, err := New(Options{Store: storetest.Open(t, store.SQLite), Logger: zaptest.NewLogger(t),
		SecretKey: bytes.Repeat([]byte("k"), 32), Hasher: auth.Hasher{Params: auth.TestParams}})
	require.NoError(t, err)
	return s
}

func TestRecoveryAnswersWithTheEnvelope(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	s.engine.GET("/boom", func(*gin.Context) { panic("boom") })
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/boom", nil))
	assert.Equal(t, http.StatusInternalServerError, rec.Code)
	var body api.ErrorBody
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
	assert.Equal(t, "internal", body.Error.Code)
	assert.NotContains(t, rec.Body.String(), "boom", "panic details stay in the log")
}

func TestNewRejectsMissingOptions(t *testing.T) {
	t.Parallel()
	_, err := New(Options{})
	assert.ErrorIs(t, err, errMissingOption)
}

func TestClassify(t *testing.T) {
	t.Parallel()
	s := &Server{}
	cases := []struct {
		err    error
		status int
	}{
		{store.ErrNotFound, 404},
		{store.ErrConflict, 409},
		{store.ErrLastOwner, 409},
		{errInvalid("x", "bad"), 400},
		{errors.New("disk on fire"), 500},
	}
	for _, tc := range cases {
		assert.Equal(t, tc.status, s.classify(tc.err).Status, tc.err.Error())
	}
}

// FuzzDecodeJSON: whatever the body, decoding answers nil or an *Error with a 400 or 413
// status, and never panics.
func FuzzDecodeJSON(f *testing.F) {
	for _, seed := range []string{`{"email":"a@b","password":"x"}`, `{"email":5}`, `[]`, `{"a":1}`,
		`{"email":"x"} {}`, `nul`, `{"email":"\ud800"}`, ``, `{"password":"` + strings.Repeat("a", 100) + `"}`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req loginRequest
		err := decodeJSON(bytes.NewReader(body), &req)
		if err == nil {
			_ = req.validate()
			return
		}
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("decode error is not an *Error: %v", err)
		}
		if e.Status != http.StatusBadRequest && e.Status != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d for %q", e.Status, body)
		}
	})
}
