package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/backend/server/servertest"
	"github.com/talos-gs/talos/backend/store"
	"github.com/talos-gs/talos/backend/store/storetest"
)

// satelliteRoutes are the routes that take a satellite key: every route whose handler chain
// ends in the protocol handlers. The test finds them in the router, so a new satellite route is
// covered without touching this list; knownSatelliteRoutes makes sure none goes missing.
var knownSatelliteRoutes = map[string]bool{
	"GET /api/satellites/:satelliteID/commands":                    true,
	"POST /api/satellites/:satelliteID/commands/:commandID/status": true,
	"POST /api/satellites/:satelliteID/heartbeat":                  true,
	"POST /api/satellites/:satelliteID/events":                     true,
	"GET /api/teams/:teamID/satellites/:satelliteID/commands":      true,
	"POST /api/satellites/:satelliteID/uploads":                    true,
	"HEAD /api/satellites/:satelliteID/uploads/:uploadID":          true,
	"PATCH /api/satellites/:satelliteID/uploads/:uploadID":         true,
	"DELETE /api/satellites/:satelliteID/uploads/:uploadID":        true,
	"GET /api/satellites/:satelliteID/releases/:releaseID":         true,
}

func satelliteFacing(h *servertest.Harness) []route {
	var out []route
	for _, r := range h.Server.Routes() {
		h := r.Handler[strings.LastIndex(r.Handler, ".")+1:]
		if h == "poll-fm" || h == "commandStatus-fm" || h == "heartbeat-fm" || h == "events-fm" || h == "downloadRelease-fm" ||
			h == "uploadCreate-fm" || h == "uploadOffset-fm" || h == "uploadChunk-fm" || h == "uploadTerminate-fm" {
			out = append(out, route{r.Method, r.Path})
		}
	}
	return out
}

// TestSatelliteAuthorizationMatrix walks every satellite route with every wrong credential.
func TestSatelliteAuthorizationMatrix(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		p := newProtocol(t, st, withReleases(t.TempDir()))
		s := p.newStation(t, "roof")
		other := p.newStation(t, "attic")
		cmd := p.queue(t, p.owner, s.SatelliteID, map[string]any{"type": "ping"})
		release := p.uploadRelease(t, "1.2.3", []byte("artifact"))

		// A rotated key and a deleted satellite's key.
		rotated := p.newStation(t, "rotated")
		body := registerBody("rotated")
		body.SatelliteID = rotated.SatelliteID
		require.Equal(t, http.StatusCreated, p.register(t, rotated.APIKey, body).Status)
		deleted := p.newStation(t, "deleted")
		require.Equal(t, http.StatusNoContent, p.owner.Do(t, http.MethodDelete, p.teamPath(deleted.SatelliteID, ""), nil).Status)

		bearer := func(key string) *servertest.Client {
			c := p.Anonymous(t)
			c.Bearer = key
			return c
		}
		wrongSecret := s.APIKey[:len(s.APIKey)-4] + "AAAA"
		clients := []struct {
			name   string
			c      *servertest.Client
			status int
		}{
			{"no key", p.Anonymous(t), http.StatusUnauthorized},
			{"malformed key", bearer("tsk_nope"), http.StatusUnauthorized},
			{"wrong secret", bearer(wrongSecret), http.StatusUnauthorized},
			{"rotated key", bearer(rotated.APIKey), http.StatusUnauthorized},
			{"deleted satellite's key", bearer(deleted.APIKey), http.StatusUnauthorized},
			{"registration token", bearer(p.teamToken(t, nil).Token), http.StatusUnauthorized},
			{"another satellite's key", other.c, http.StatusNotFound},
			{"user session", p.owner, http.StatusNotFound},
			{"user token", p.TokenClient(t, p.ownerUser), http.StatusNotFound},
			{"admin session", p.admin, http.StatusNotFound},
		}
		routes := satelliteFacing(p.Harness)
		require.Len(t, routes, len(knownSatelliteRoutes))
		valid := map[string]any{
			"heartbeat": sampleHeartbeat(), "events": api.EventBatch{Events: []api.Event{event("log")}},
			"status": map[string]any{"status": "acknowledged"},
		}
		for _, rt := range routes {
			require.True(t, knownSatelliteRoutes[rt.Method+" "+rt.Path], "unlisted satellite route %s %s", rt.Method, rt.Path)
			path := strings.NewReplacer(":satelliteID", s.SatelliteID, ":teamID", p.team.ID, ":commandID", cmd,
				":uploadID", strings.Repeat("ab", 16), ":releaseID", release).Replace(rt.Path)
			last := path[strings.LastIndex(path, "/")+1:]
			for _, cl := range clients {
				r := cl.c.Do(t, rt.Method, path, valid[last])
				assert.Equal(t, cl.status, r.Status, "%s %s with %s: %s", rt.Method, rt.Path, cl.name, r.Body)
				if cl.status == http.StatusUnauthorized && rt.Method != http.MethodHead { // HEAD: no body
					assert.Equal(t, api.ErrUnauthorized, r.Error(t).Code)
				}
			}
			// The satellite's own key passes (to the upload routes' 503: this harness stores no
			// artifacts; uploads_test.go runs them).
			want := http.StatusOK
			if strings.Contains(rt.Path, "/uploads") {
				want = http.StatusServiceUnavailable
			}
			r := s.c.Do(t, rt.Method, path, valid[last])
			assert.Equal(t, want, r.Status, "%s %s with its own key: %s", rt.Method, rt.Path, r.Body)
		}
		// The team alias with another team's id is 404 for the satellite too.
		r := s.c.Do(t, http.MethodGet, "/api/teams/"+store.NewID()+"/satellites/"+s.SatelliteID+"/commands", nil)
		assert.Equal(t, http.StatusNotFound, r.Status)

		// A satellite key cannot call user routes.
		for _, path := range []string{"/api/me", "/api/teams", "/api/teams/" + p.team.ID + "/satellites",
			"/api/satellites/" + s.SatelliteID + "/commands/history", "/api/registration-tokens"} {
			r := s.c.Do(t, http.MethodGet, path, nil)
			assert.Contains(t, []int{http.StatusForbidden, http.StatusNotFound}, r.Status, "%s: %s", path, r.Body)
		}
		r = s.c.Do(t, http.MethodPost, "/api/satellites/"+s.SatelliteID+"/commands", map[string]any{"type": "ping"})
		assert.Equal(t, http.StatusForbidden, r.Status, "a satellite cannot queue commands")
	})
}
