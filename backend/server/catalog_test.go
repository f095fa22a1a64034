package server_test

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/backend/server"
	"github.com/talos-gs/talos/backend/server/servertest"
	"github.com/talos-gs/talos/backend/store"
	"github.com/talos-gs/talos/backend/store/storetest"
	"github.com/talos-gs/talos/orbit"
)

const (
	catISS1 = "1 25544U 98067A   26177.67101756  .00008101  00000+0  15268-3 0  9990"
	catISS2 = "2 25544  51.6322 253.1475 0004299 235.1263 124.9322 15.49442433573225"
)

// catChecksum replaces column 69 of a TLE line with its checksum.
func catChecksum(l string) string {
	return l[:68] + strconv.Itoa(orbit.TLEChecksum(l[:68]))
}

// catTLE is the ISS's set under another name and catalog number (Alpha-5 allowed).
func catTLE(name, cat string) string {
	return name + "\n" + catChecksum(catISS1[:2]+cat+catISS1[7:]) + "\n" + catChecksum(catISS2[:2]+cat+catISS2[7:]) + "\n"
}

func importTLE(t *testing.T, c *servertest.Client, path, body string) *servertest.Response {
	t.Helper()
	return c.Do(t, http.MethodPost, path+"?source=test", body, "Content-Type", "text/plain")
}

type catalogUsers struct {
	h                                      *servertest.Harness
	team, other                            *store.Team
	owner, admin, member, viewer, outsider *servertest.Client
	global                                 *servertest.Client
}

func newCatalogUsers(t *testing.T, st *store.Store, options ...func(*server.Options)) *catalogUsers {
	h := servertest.New(t, st, options...)
	u := &catalogUsers{h: h}
	owner := h.CreateUser(t, "owner@example.org", false)
	u.team = h.CreateTeam(t, "Cubesat", owner)
	out := h.CreateUser(t, "outsider@example.org", false)
	u.other = h.CreateTeam(t, "Other", out)
	u.owner, u.outsider = h.TokenClient(t, owner), h.TokenClient(t, out)
	for role, c := range map[store.Role]**servertest.Client{store.RoleAdmin: &u.admin, store.RoleMember: &u.member, store.RoleViewer: &u.viewer} {
		usr := h.CreateUser(t, string(role)+"@example.org", false)
		h.AddMember(t, u.team, usr, role)
		*c = h.TokenClient(t, usr)
	}
	u.global = h.TokenClient(t, h.CreateUser(t, "root@example.org", true))
	return u
}

// TestCatalogRoleMatrix: any member reads the catalog; team admins (and owners, and global
// administrators) change the team's catalog; members and viewers cannot; the global catalog is
// changed by global administrators only; outsiders get 404.
func TestCatalogRoleMatrix(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		u := newCatalogUsers(t, st)
		teamPath := "/api/teams/" + u.team.ID
		clients := map[string]*servertest.Client{"owner": u.owner, "admin": u.admin, "member": u.member,
			"viewer": u.viewer, "outsider": u.outsider, "global admin": u.global}
		want := func(read, write int) map[string][2]int {
			return map[string][2]int{"owner": {read, write}, "admin": {read, write}, "member": {read, http.StatusForbidden},
				"viewer": {read, http.StatusForbidden}, "outsider": {http.StatusNotFound, http.StatusNotFound},
				"global admin": {read, write}}
		}(http.StatusOK, http.StatusCreated)
		n := 40000
		for name, c := range clients {
			r := c.Do(t, http.MethodGet, teamPath+"/spacecraft", nil)
			assert.Equal(t, want[name][0], r.Status, "%s lists: %s", name, r.Body)
			n++
			r = c.Do(t, http.MethodPost, teamPath+"/spacecraft", map[string]any{"norad_id": n, "name": "SAT " + name})
			assert.Equal(t, want[name][1], r.Status, "%s creates: %s", name, r.Body)
			r = importTLE(t, c, teamPath+"/catalog/import", catTLE("IMPORTED", fmt.Sprint(n+100)))
			wantImport := want[name][1]
			if wantImport == http.StatusCreated {
				wantImport = http.StatusOK
			}
			assert.Equal(t, wantImport, r.Status, "%s imports into the team: %s", name, r.Body)
			r = c.Do(t, http.MethodPost, teamPath+"/catalog/sources", map[string]any{"name": "s " + name, "url": "https://example.org/" + name})
			assert.Equal(t, want[name][1], r.Status, "%s adds a team source: %s", name, r.Body)

			globalWant := http.StatusForbidden
			if name == "global admin" {
				globalWant = http.StatusOK
			}
			r = importTLE(t, c, "/api/catalog/import", catTLE("GLOBAL", "25544"))
			assert.Equal(t, globalWant, r.Status, "%s imports globally: %s", name, r.Body)
			r = c.Do(t, http.MethodPost, "/api/catalog/sources", map[string]any{"name": "g " + name, "url": "https://example.org/g"})
			if globalWant == http.StatusOK {
				globalWant = http.StatusCreated
			}
			assert.Equal(t, globalWant, r.Status, "%s adds a global source: %s", name, r.Body)
		}

		// A global spacecraft cannot be changed through a team route, even by the team's owner.
		var list struct {
			Spacecraft []struct {
				ID      string `json:"id"`
				NORADID int    `json:"norad_id"`
				Global  bool   `json:"global"`
			} `json:"spacecraft"`
		}
		r := u.owner.Do(t, http.MethodGet, teamPath+"/spacecraft?norad=25544", nil)
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		r.JSON(t, &list)
		require.Len(t, list.Spacecraft, 1)
		require.True(t, list.Spacecraft[0].Global)
		r = u.owner.Do(t, http.MethodPatch, teamPath+"/spacecraft/"+list.Spacecraft[0].ID, map[string]string{"name": "MINE"})
		assert.Equal(t, http.StatusForbidden, r.Status)
		assert.Equal(t, "global_spacecraft", r.Error(t).Code)

		// The team's own spacecraft are invisible to the other team, whichever path it tries.
		r = u.owner.Do(t, http.MethodGet, teamPath+"/spacecraft?own=true", nil)
		r.JSON(t, &list)
		require.NotEmpty(t, list.Spacecraft)
		own := list.Spacecraft[0].ID
		otherPath := "/api/teams/" + u.other.ID
		assert.Equal(t, http.StatusNotFound, u.outsider.Do(t, http.MethodGet, otherPath+"/spacecraft/"+own, nil).Status)
		assert.Equal(t, http.StatusNotFound, u.outsider.Do(t, http.MethodGet, otherPath+"/spacecraft/"+own+"/element-sets", nil).Status)
		r = u.outsider.Do(t, http.MethodGet, otherPath+"/spacecraft", nil)
		r.JSON(t, &list)
		for _, sc := range list.Spacecraft {
			assert.True(t, sc.Global, "the other team sees only the global catalog")
		}
	})
}

// TestCatalogAPI runs an import with a bad record, search, Alpha-5 filters, history, stale
// flags, transmitters and sources through the API.
func TestCatalogAPI(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, st *store.Store) {
		u := newCatalogUsers(t, st)
		teamPath := "/api/teams/" + u.team.ID
		body := catTLE("ISS (ZARYA)", "25544") + "1 broken line\n" + catTLE("TEAM SAT", "A0001")
		r := importTLE(t, u.admin, teamPath+"/catalog/import", body)
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		var rep struct {
			Accepted, Rejected int
			Errors             []struct {
				Line    int
				Message string
			}
		}
		r.JSON(t, &rep)
		assert.Equal(t, 2, rep.Accepted)
		require.Len(t, rep.Errors, 1)
		assert.Equal(t, 4, rep.Errors[0].Line)

		type scJSON struct {
			ID         string `json:"id"`
			NORAD      string `json:"norad"`
			NORADID    int    `json:"norad_id"`
			Name       string `json:"name"`
			ElementSet *struct {
				AgeSeconds int64 `json:"age_seconds"`
				Stale      bool  `json:"stale"`
			} `json:"element_set"`
		}
		var list struct{ Spacecraft []scJSON }
		r = u.viewer.Do(t, http.MethodGet, teamPath+"/spacecraft?norad=A0001", nil)
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		r.JSON(t, &list)
		require.Len(t, list.Spacecraft, 1)
		sc := list.Spacecraft[0]
		assert.Equal(t, "A0001", sc.NORAD)
		assert.Equal(t, 100001, sc.NORADID)
		require.NotNil(t, sc.ElementSet)
		assert.True(t, sc.ElementSet.Stale, "a June set read in December is stale")
		assert.Positive(t, sc.ElementSet.AgeSeconds)

		r = u.viewer.Do(t, http.MethodGet, teamPath+"/spacecraft?q="+url.QueryEscape("zary"), nil)
		r.JSON(t, &list)
		require.Len(t, list.Spacecraft, 1)
		assert.Equal(t, "ISS (ZARYA)", list.Spacecraft[0].Name)

		r = u.viewer.Do(t, http.MethodGet, teamPath+"/spacecraft?norad=I0001", nil)
		assert.Equal(t, http.StatusBadRequest, r.Status)
		assert.Equal(t, "norad", r.Error(t).Field)

		r = u.viewer.Do(t, http.MethodGet, teamPath+"/spacecraft/"+sc.ID+"/element-sets", nil)
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		var hist struct {
			ElementSets []struct {
				Current bool   `json:"current"`
				Raw     string `json:"raw"`
				Format  string `json:"format"`
				Source  string `json:"source"`
			} `json:"element_sets"`
		}
		r.JSON(t, &hist)
		require.Len(t, hist.ElementSets, 1)
		assert.True(t, hist.ElementSets[0].Current)
		assert.Equal(t, "tle", hist.ElementSets[0].Format)
		assert.Equal(t, "test", hist.ElementSets[0].Source)
		assert.Contains(t, hist.ElementSets[0].Raw, "1 A0001U")

		// Transmitters: bad field named, then created, listed and deleted.
		txPath := teamPath + "/spacecraft/" + sc.ID + "/transmitters"
		r = u.admin.Do(t, http.MethodPost, txPath, map[string]any{"description": "x", "downlink_low": -5})
		assert.Equal(t, http.StatusBadRequest, r.Status)
		assert.Equal(t, "downlink_low", r.Error(t).Field)
		r = u.admin.Do(t, http.MethodPost, txPath, map[string]any{"description": "9k6 GMSK", "downlink_low": 437250000, "mode": "GMSK", "baud": 9600})
		require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
		var tx struct{ ID string }
		r.JSON(t, &tx)
		r = u.viewer.Do(t, http.MethodGet, txPath, nil)
		assert.Contains(t, string(r.Body), `"downlink_low":437250000`)
		assert.Equal(t, http.StatusForbidden, u.member.Do(t, http.MethodDelete, txPath+"/"+tx.ID, nil).Status)
		assert.Equal(t, http.StatusNoContent, u.admin.Do(t, http.MethodDelete, txPath+"/"+tx.ID, nil).Status)

		// Sources: only http(s), a sane interval, unique names.
		srcPath := teamPath + "/catalog/sources"
		for _, bad := range []struct {
			body  map[string]any
			field string
		}{
			{map[string]any{"name": "x", "url": "file:///etc/passwd"}, "url"},
			{map[string]any{"name": "x", "url": "https://celestrak.org/x", "interval_seconds": 60}, "interval_seconds"},
			{map[string]any{"name": "x", "url": "https://celestrak.org/x", "format": "xml"}, "format"},
			{map[string]any{"name": "", "url": "https://celestrak.org/x"}, "name"},
		} {
			r = u.admin.Do(t, http.MethodPost, srcPath, bad.body)
			assert.Equal(t, http.StatusBadRequest, r.Status, string(r.Body))
			assert.Equal(t, bad.field, r.Error(t).Field)
		}
		ok := map[string]any{"name": "celestrak", "url": "https://celestrak.org/NORAD/elements/gp.php?GROUP=cubesat&FORMAT=json", "format": "omm-json"}
		r = u.admin.Do(t, http.MethodPost, srcPath, ok)
		require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
		assert.Contains(t, string(r.Body), `"interval_seconds":7200`)
		assert.Equal(t, http.StatusConflict, u.admin.Do(t, http.MethodPost, srcPath, ok).Status)

		// The owner edits and deletes the team's own spacecraft.
		r = u.owner.Do(t, http.MethodPatch, teamPath+"/spacecraft/"+sc.ID, map[string]string{"name": "RENAMED"})
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		assert.Contains(t, string(r.Body), `"name":"RENAMED"`)
		assert.Equal(t, http.StatusNoContent, u.owner.Do(t, http.MethodDelete, teamPath+"/spacecraft/"+sc.ID, nil).Status)
		assert.Equal(t, http.StatusNotFound, u.owner.Do(t, http.MethodGet, teamPath+"/spacecraft/"+sc.ID, nil).Status)

		// Imports refuse what is not a file, and bodies that are not text.
		r = u.admin.Do(t, http.MethodPost, teamPath+"/catalog/import", "x", "Content-Type", "multipart/form-data; boundary=x")
		assert.Equal(t, http.StatusUnsupportedMediaType, r.Status)
		r = u.admin.Do(t, http.MethodPost, teamPath+"/catalog/import", "ISS\x00", "Content-Type", "text/plain")
		assert.Equal(t, http.StatusBadRequest, r.Status)
		r = u.admin.Do(t, http.MethodPost, teamPath+"/catalog/import?format=xml", "x", "Content-Type", "text/plain")
		assert.Equal(t, "format", r.Error(t).Field)
		r = u.admin.Do(t, http.MethodPost, teamPath+"/spacecraft", map[string]any{"norad_id": "12a", "name": "x"})
		assert.Equal(t, "norad_id", r.Error(t).Field)
		r = u.admin.Do(t, http.MethodPost, teamPath+"/spacecraft", map[string]any{"norad_id": "B1234", "name": strings.Repeat("x", 101)})
		assert.Equal(t, "name", r.Error(t).Field)
	})
}

// TestCatalogImportBodyLimit: the import routes take files far over the JSON body limit, up to
// their own limit (413 beyond it); every other route keeps the general limit.
func TestCatalogImportBodyLimit(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("../catalog/testdata/celestrak-active-2026-177.tle")
	require.NoError(t, err)
	h := servertest.New(t, storetest.Open(t, store.SQLite), func(o *server.Options) {
		o.MaxBodyBytes = 1024
		o.MaxImportBytes = int64(len(data))
	})
	admin := h.TokenClient(t, h.CreateUser(t, "root@example.org", true))
	r := admin.Do(t, http.MethodPost, "/api/catalog/import?source=celestrak-active", data, "Content-Type", "text/plain")
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	assert.Contains(t, string(r.Body), `"accepted":571`)

	r = admin.Do(t, http.MethodPost, "/api/catalog/import", append(data, '\n'), "Content-Type", "text/plain")
	assert.Equal(t, http.StatusRequestEntityTooLarge, r.Status)
	assert.Equal(t, "body_too_large", r.Error(t).Code)
	r = admin.Do(t, http.MethodPost, "/api/catalog/sources", `{"name": "`+strings.Repeat("x", 2000)+`"}`)
	assert.Equal(t, http.StatusRequestEntityTooLarge, r.Status, "JSON routes keep the general limit")
}
