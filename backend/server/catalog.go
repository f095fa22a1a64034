package server

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/talos-gs/talos/backend/catalog"
	"github.com/talos-gs/talos/backend/store"
)

// codeGlobalSpacecraft answers a team's attempt to change a spacecraft of the global catalog.
const codeGlobalSpacecraft = "global_spacecraft"

var errGlobalSpacecraft = &Error{http.StatusForbidden, codeGlobalSpacecraft,
	"spacecraft of the global catalog change only through global imports and sources", ""}

const ctxSpacecraft = "talos.spacecraft"

// catalogRoutes: reading is open to every member of the team (viewers included) and covers the
// global catalog and the team's own spacecraft, never another team's; changing the team's
// catalog needs the admin role (docs/decisions/0081); the global catalog is changed by global
// administrators only.
func (s *Server) catalogRoutes() {
	s.teamAPI.GET("/spacecraft", s.listSpacecraft)
	s.teamAPI.POST("/spacecraft", s.catalogAdmin, s.createSpacecraft)
	one := s.teamAPI.Group("/spacecraft/:spacecraftID", s.spacecraftAccess)
	one.GET("", s.getSpacecraft)
	one.PATCH("", s.catalogAdmin, s.ownSpacecraft, s.updateSpacecraft)
	one.DELETE("", s.catalogAdmin, s.ownSpacecraft, s.deleteSpacecraft)
	one.GET("/element-sets", s.listElementSets)
	one.GET("/transmitters", s.listTransmitters)
	one.POST("/transmitters", s.catalogAdmin, s.ownSpacecraft, s.createTransmitter)
	one.DELETE("/transmitters/:transmitterID", s.catalogAdmin, s.ownSpacecraft, s.deleteTransmitter)
	s.catalogImportRoutes()
}

// catalogAdmin admits team admins and owners (and global administrators, who act as owners).
func (s *Server) catalogAdmin(c *gin.Context) {
	if !s.requireRole(c, store.RoleAdmin) {
		return
	}
	c.Next()
}

// spacecraftAccess loads the spacecraft of the path, answering 404 for one the team cannot see.
func (s *Server) spacecraftAccess(c *gin.Context) {
	id := c.Param("spacecraftID")
	if !store.ValidID(id) {
		s.fail(c, errNotFound)
		return
	}
	sc, err := s.store.VisibleSpacecraftByID(c.Request.Context(), teamOf(c).ID, id)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Set(ctxSpacecraft, sc)
	c.Next()
}

func spacecraftOf(c *gin.Context) *store.Spacecraft {
	v, _ := c.Get(ctxSpacecraft)
	sc, _ := v.(*store.Spacecraft)
	return sc
}

// ownSpacecraft refuses changes to a spacecraft of the global catalog through a team route.
func (s *Server) ownSpacecraft(c *gin.Context) {
	if spacecraftOf(c).Global() {
		s.fail(c, errGlobalSpacecraft)
		return
	}
	c.Next()
}

func (s *Server) catalogNow() time.Time { return s.store.Now() }

// listSpacecraft lists what the team can see, by NORAD id: ?q= searches name, designator and
// NORAD id; ?norad= (repeatable, Alpha-5 allowed) picks catalog numbers; ?own=true keeps the
// team's own; ?after=N pages (the next_after of the previous page).
func (s *Server) listSpacecraft(c *gin.Context) {
	q, err := spacecraftQuery(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	crafts, err := s.store.VisibleSpacecraft(c.Request.Context(), teamOf(c).ID, q)
	if err != nil {
		s.fail(c, err)
		return
	}
	now := s.catalogNow()
	out := make([]spacecraftJSON, len(crafts))
	for i := range crafts {
		out[i] = s.toSpacecraftJSON(&crafts[i], now)
	}
	var next *int
	if len(crafts) == q.Limit {
		next = &crafts[len(crafts)-1].NORADID
	}
	writeJSON(c, http.StatusOK, gin.H{"spacecraft": out, "next_after": next})
}

func spacecraftQuery(c *gin.Context) (store.SpacecraftQuery, error) {
	var q store.SpacecraftQuery
	var err error
	if q.Limit, err = queryLimit(c, 100, 1000); err != nil {
		return q, err
	}
	if q.Search = strings.TrimSpace(c.Query("q")); q.Search != "" {
		if err := validText("q", q.Search, 1, 100); err != nil {
			return q, err
		}
	}
	for _, v := range c.QueryArray("norad") {
		n, err := catalog.ParseNORAD(v)
		if err != nil {
			return q, errInvalid("norad", "norad: %v", err)
		}
		q.NORADIDs = append(q.NORADIDs, n)
	}
	if len(q.NORADIDs) > 1000 {
		return q, errInvalid("norad", "at most 1000 norad values")
	}
	if v := c.Query("own"); v != "" {
		if q.OnlyOwn, err = strconv.ParseBool(v); err != nil {
			return q, errInvalid("own", "own must be true or false")
		}
	}
	if v := c.Query("after"); v != "" {
		if q.AfterNORAD, err = catalog.ParseNORAD(v); err != nil {
			return q, errInvalid("after", "after: %v", err)
		}
	}
	return q, nil
}

func (s *Server) getSpacecraft(c *gin.Context) {
	writeJSON(c, http.StatusOK, s.toSpacecraftJSON(spacecraftOf(c), s.catalogNow()))
}

// noradField accepts a catalog number as a JSON number or a string (digits or Alpha-5).
type noradField string

func (n *noradField) UnmarshalJSON(b []byte) error {
	var s string
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	} else {
		s = string(b)
	}
	*n = noradField(s)
	return nil
}

type createSpacecraftRequest struct {
	NORADID        noradField `json:"norad_id"`
	Name           string     `json:"name"`
	IntlDesignator string     `json:"intl_designator"`
	norad          int
}

func (r *createSpacecraftRequest) validate() error {
	n, err := catalog.ParseNORAD(string(r.NORADID))
	if err != nil {
		return errInvalid("norad_id", "norad_id: %v", err)
	}
	r.norad = n
	if err := validText("name", r.Name, 1, 100); err != nil {
		return err
	}
	return validText("intl_designator", r.IntlDesignator, 0, 20)
}

// createSpacecraft adds a spacecraft to the team's own catalog (a cubesat the public catalogs
// do not know yet); its element sets come through the team's import or sources.
func (s *Server) createSpacecraft(c *gin.Context) {
	var req createSpacecraftRequest
	if !s.bind(c, &req) {
		return
	}
	team := teamOf(c)
	sc, err := s.store.CreateSpacecraft(c.Request.Context(), team.ID, req.norad,
		strings.TrimSpace(req.Name), strings.TrimSpace(req.IntlDesignator))
	if err != nil {
		s.fail(c, err)
		return
	}
	setAudit(c, auditInfo{Action: "spacecraft.create", ObjectType: "spacecraft", ObjectID: sc.ID,
		Detail: catalog.FormatNORAD(sc.NORADID)})
	writeJSON(c, http.StatusCreated, s.toSpacecraftJSON(sc, s.catalogNow()))
}

type updateSpacecraftRequest struct {
	Name           *string `json:"name"`
	IntlDesignator *string `json:"intl_designator"`
}

func (r *updateSpacecraftRequest) validate() error {
	if r.Name == nil && r.IntlDesignator == nil {
		return errInvalid("", "give name or intl_designator")
	}
	if r.Name != nil {
		if err := validText("name", *r.Name, 1, 100); err != nil {
			return err
		}
		*r.Name = strings.TrimSpace(*r.Name)
	}
	if r.IntlDesignator != nil {
		if err := validText("intl_designator", *r.IntlDesignator, 0, 20); err != nil {
			return err
		}
		*r.IntlDesignator = strings.TrimSpace(*r.IntlDesignator)
	}
	return nil
}

func (s *Server) updateSpacecraft(c *gin.Context) {
	var req updateSpacecraftRequest
	if !s.bind(c, &req) {
		return
	}
	sc, err := s.store.UpdateSpacecraft(c.Request.Context(), teamOf(c).ID, spacecraftOf(c).ID, req.Name, req.IntlDesignator)
	if err != nil {
		s.fail(c, err)
		return
	}
	setAudit(c, auditInfo{Action: "spacecraft.update", ObjectType: "spacecraft", ObjectID: sc.ID, Detail: sc.Name})
	writeJSON(c, http.StatusOK, s.toSpacecraftJSON(sc, s.catalogNow()))
}

func (s *Server) deleteSpacecraft(c *gin.Context) {
	sc := spacecraftOf(c)
	if err := s.store.DeleteSpacecraft(c.Request.Context(), teamOf(c).ID, sc.ID); err != nil {
		s.fail(c, err)
		return
	}
	setAudit(c, auditInfo{Action: "spacecraft.delete", ObjectType: "spacecraft", ObjectID: sc.ID,
		Detail: catalog.FormatNORAD(sc.NORADID)})
	c.Status(http.StatusNoContent)
}

// listElementSets is the history, newest epoch first; ?before=RFC3339 pages by epoch.
func (s *Server) listElementSets(c *gin.Context) {
	limit, err := queryLimit(c, 100, 1000)
	if err != nil {
		s.fail(c, err)
		return
	}
	var before *time.Time
	if v := c.Query("before"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			s.fail(c, errInvalid("before", "before must be an RFC 3339 time"))
			return
		}
		before = &t
	}
	sc := spacecraftOf(c)
	sets, err := s.store.ElementSetHistory(c.Request.Context(), sc.ID, before, limit)
	if err != nil {
		s.fail(c, err)
		return
	}
	now := s.catalogNow()
	out := make([]elementSetJSON, len(sets))
	for i := range sets {
		out[i] = s.toElementSetJSON(&sets[i], sc.CurrentSetID != nil && *sc.CurrentSetID == sets[i].ID, now)
	}
	writeJSON(c, http.StatusOK, gin.H{"element_sets": out})
}

func (s *Server) listTransmitters(c *gin.Context) {
	txs, err := s.store.Transmitters(c.Request.Context(), spacecraftOf(c).ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	out := make([]transmitterJSON, len(txs))
	for i := range txs {
		out[i] = toTransmitterJSON(&txs[i])
	}
	writeJSON(c, http.StatusOK, gin.H{"transmitters": out})
}

// createTransmitterRequest carries SatNOGS DB's transmitter fields (uuid and norad_cat_id come
// from the route and the server).
type createTransmitterRequest catalog.Radio

func (r *createTransmitterRequest) transmitter() catalog.Transmitter {
	return catalog.Transmitter{UUID: "manual", NORADID: 1, Radio: catalog.Radio(*r)}
}

func (r *createTransmitterRequest) validate() error {
	t := r.transmitter()
	if field, err := t.Validate(); err != nil {
		return errInvalid(field, "%s: %v", field, err)
	}
	if r.DownlinkLow == nil && r.UplinkLow == nil {
		return errInvalid("downlink_low", "give downlink_low or uplink_low")
	}
	return nil
}

func (s *Server) createTransmitter(c *gin.Context) {
	var req createTransmitterRequest
	if !s.bind(c, &req) {
		return
	}
	t := req.transmitter()
	row := t.Row()
	row.ExternalID, row.SpacecraftID, row.Source = "", spacecraftOf(c).ID, "manual"
	if err := s.store.CreateTransmitter(c.Request.Context(), &row); err != nil {
		s.fail(c, err)
		return
	}
	setAudit(c, auditInfo{Action: "transmitter.create", ObjectType: "transmitter", ObjectID: row.ID, Detail: row.Description})
	writeJSON(c, http.StatusCreated, toTransmitterJSON(&row))
}

func (s *Server) deleteTransmitter(c *gin.Context) {
	id := c.Param("transmitterID")
	if !store.ValidID(id) {
		s.fail(c, errNotFound)
		return
	}
	if err := s.store.DeleteTransmitter(c.Request.Context(), spacecraftOf(c).ID, id); err != nil {
		s.fail(c, err)
		return
	}
	setAudit(c, auditInfo{Action: "transmitter.delete", ObjectType: "transmitter", ObjectID: id})
	c.Status(http.StatusNoContent)
}
