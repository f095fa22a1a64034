package server_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/backend/ratelimit"
	"github.com/talos-gs/talos/backend/server"
	"github.com/talos-gs/talos/backend/store"
	"github.com/talos-gs/talos/backend/store/storetest"
)

// A campus provisions 50 stations behind one NAT address with one multi-use token carrying its
// own rate: none is refused, while a token without a rate still meets the per-address limit
// (burst 10, then one per 6 s by default). The clock stands still, so the buckets never refill.
func TestRegistrationTokenCarriesItsOwnRate(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		clk := newTestClock()
		p := newProtocol(t, st, withClock(clk), func(o *server.Options) {
			o.Satellites.RegisterLimiter = ratelimit.New(6*time.Second, 10, 1000, clk.Now)
		})
		campus := p.teamToken(t, map[string]any{"uses": 50, "rate_per_minute": 60})
		assert.Equal(t, 60, campus.RatePerMinute)
		for i := range 50 {
			r := p.register(t, campus.Token, registerBody(fmt.Sprintf("campus-%d", i)))
			require.Equal(t, http.StatusCreated, r.Status, "station %d: %s", i, r.Body)
		}
		// The token's own bucket is spent (60 at once, 50 used): 10 more would pass, the 11th not.
		more := p.teamToken(t, map[string]any{"uses": 100})
		var refused int
		for i := range 11 {
			r := p.register(t, more.Token, registerBody(fmt.Sprintf("plain-%d", i)))
			if r.Status == http.StatusTooManyRequests {
				refused++
				assert.Equal(t, api.ErrRateLimited, r.Error(t).Code)
			}
		}
		assert.Equal(t, 1, refused, "a token without its own rate meets the per-address limit")

		var list struct{ Tokens []createdRegToken }
		p.owner.Do(t, http.MethodGet, "/api/teams/"+p.team.ID+"/registration-tokens", nil).JSON(t, &list)
		rates := map[string]int{}
		for _, tok := range list.Tokens {
			rates[tok.ID] = tok.RatePerMinute
		}
		assert.Equal(t, 60, rates[campus.ID])
		assert.Equal(t, 0, rates[more.ID])

		for _, body := range []map[string]any{{"uses": 1, "rate_per_minute": 5}, {"uses": 5, "rate_per_minute": -1},
			{"uses": 5, "rate_per_minute": 601}} {
			r := p.owner.Do(t, http.MethodPost, "/api/teams/"+p.team.ID+"/registration-tokens", body)
			assert.Equal(t, http.StatusBadRequest, r.Status, "%v", body)
			assert.Equal(t, "rate_per_minute", r.Error(t).Field, "%v", body)
		}
	})
}
