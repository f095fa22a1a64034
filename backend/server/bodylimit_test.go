package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/backend/server"
	"github.com/talos-gs/talos/backend/server/servertest"
	"github.com/talos-gs/talos/backend/store"
	"github.com/talos-gs/talos/backend/store/storetest"
)

// TestEventBatchLimitSurvivesALowerGeneralLimit: satellites are promised event batches of
// api.MaxEventBatchBytes; a lower TALOS_MAX_BODY_BYTES applies everywhere else.
func TestEventBatchLimitSurvivesALowerGeneralLimit(t *testing.T) {
	t.Parallel()
	h := servertest.New(t, storetest.Open(t, store.SQLite), func(o *server.Options) { o.MaxBodyBytes = 1024 })
	c := h.Anonymous(t)
	events := "/api/satellites/" + uuid.NewString() + "/events"
	body := func(n int) string { return `{"events":[],"pad":"` + strings.Repeat("x", n) + `"}` }

	// Past the body limit, the request reaches authentication (no key: 401), not 413.
	r := c.Do(t, http.MethodPost, events, body(api.MaxEventBatchBytes-100))
	assert.Equal(t, http.StatusUnauthorized, r.Status)

	r = c.Do(t, http.MethodPost, events, body(api.MaxEventBatchBytes))
	assert.Equal(t, http.StatusRequestEntityTooLarge, r.Status)
	assert.Equal(t, api.ErrBodyTooLarge, r.Error(t).Code)

	// Every other route keeps the general limit.
	r = c.Do(t, http.MethodPost, "/api/satellites/register", body(2000))
	assert.Equal(t, http.StatusRequestEntityTooLarge, r.Status)
}
