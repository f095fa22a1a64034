package server

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/backend/catalog"
	"github.com/talos-gs/talos/backend/store"
)

// Catalog import and source routes, team-scoped and global (the global ones for global
// administrators only).
const (
	teamImportRoute   = "/api/teams/:teamID/catalog/import"
	globalImportRoute = "/api/catalog/import"
)

func (s *Server) catalogImportRoutes() {
	s.teamAPI.POST("/catalog/import", s.catalogAdmin, s.importCatalog)
	s.teamAPI.GET("/catalog/sources", s.listSources)
	s.teamAPI.POST("/catalog/sources", s.catalogAdmin, s.createSource)
	s.teamAPI.DELETE("/catalog/sources/:sourceID", s.catalogAdmin, s.deleteSource)
	s.teamAPI.GET("/catalog/events", s.listCatalogEvents)

	global := s.userAPI.Group("/catalog", s.requireAdmin)
	global.POST("/import", s.importCatalog)
	global.GET("/sources", s.listSources)
	global.POST("/sources", s.createSource)
	global.DELETE("/sources/:sourceID", s.deleteSource)
}

// catalogOwner is the team of a team route, "" (the global catalog) on a global route.
func catalogOwner(c *gin.Context) string {
	if t := teamOf(c); t != nil {
		return t.ID
	}
	return ""
}

// importContentTypes are the bodies an import accepts: the file as it is.
var importContentTypes = map[string]bool{"application/json": true, "text/plain": true, "application/octet-stream": true}

// importCatalog reads the body as a catalog file (?format= tle, omm-json, omm-kvn,
// satnogs-transmitters, or auto) into the team's catalog or, on the global route, the global
// one. The answer is the import report: 200 even when some records were rejected, each listed
// with its line and field.
func (s *Server) importCatalog(c *gin.Context) {
	format, err := catalog.ParseFormat(c.Query("format"))
	if err != nil {
		s.fail(c, errInvalid("format", "format: %v", err))
		return
	}
	source := strings.TrimSpace(c.DefaultQuery("source", "upload"))
	if err := validText("source", source, 1, 100); err != nil {
		s.fail(c, err)
		return
	}
	mediaType, _, err := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if err != nil || !importContentTypes[mediaType] {
		s.fail(c, &Error{http.StatusUnsupportedMediaType, codeUnsupportedMediaType,
			"send the file as text/plain, application/json or application/octet-stream", ""})
		return
	}
	data, err := io.ReadAll(c.Request.Body)
	if err != nil {
		s.fail(c, jsonError(err))
		return
	}
	rep, err := s.catalog.Import(c.Request.Context(), catalog.ImportRequest{TeamID: catalogOwner(c), Source: source, Format: format, Data: data})
	switch {
	case errors.Is(err, catalog.ErrNotText):
		s.fail(c, errInvalid("", "%v", err))
		return
	case errors.Is(err, catalog.ErrTooLarge):
		s.fail(c, &Error{http.StatusRequestEntityTooLarge, api.ErrBodyTooLarge, err.Error(), ""})
		return
	case err != nil:
		s.fail(c, err)
		return
	}
	setAudit(c, auditInfo{Action: "catalog.import", ObjectType: "catalog", Detail: truncate(
		source+": "+string(rep.Format)+", "+itoa(rep.Accepted)+" accepted, "+itoa(rep.Refused)+" refused, "+
			itoa(rep.Rejected)+" rejected", 200)})
	writeJSON(c, http.StatusOK, rep)
}

type createSourceRequest struct {
	Name            string `json:"name"`
	URL             string `json:"url"`
	Format          string `json:"format"`
	IntervalSeconds int    `json:"interval_seconds"`
}

func (r *createSourceRequest) validate() error {
	if err := validText("name", r.Name, 1, 100); err != nil {
		return err
	}
	r.Name = strings.TrimSpace(r.Name)
	if err := catalog.ValidateSourceURL(r.URL); err != nil {
		return errInvalid("url", "url: %v", err)
	}
	f, err := catalog.ParseFormat(r.Format)
	if err != nil {
		return errInvalid("format", "format: %v", err)
	}
	r.Format = string(f)
	if r.IntervalSeconds == 0 {
		r.IntervalSeconds = int(catalog.DefaultInterval / time.Second)
	}
	if minS, maxS := int(catalog.MinInterval/time.Second), int(catalog.MaxInterval/time.Second); r.IntervalSeconds < minS || r.IntervalSeconds > maxS {
		return errInvalid("interval_seconds", "interval_seconds must be %d to %d", minS, maxS)
	}
	return nil
}

func (s *Server) createSource(c *gin.Context) {
	var req createSourceRequest
	if !s.bind(c, &req) {
		return
	}
	owner := catalogOwner(c)
	src := &store.CatalogSource{Name: req.Name, URL: req.URL, Format: req.Format, IntervalSeconds: req.IntervalSeconds}
	if owner != "" {
		src.TeamID = &owner
	}
	if err := s.store.CreateCatalogSource(c.Request.Context(), src); err != nil {
		s.fail(c, err)
		return
	}
	setAudit(c, auditInfo{Action: "catalog_source.create", ObjectType: "catalog_source", ObjectID: src.ID, Detail: src.Name})
	writeJSON(c, http.StatusCreated, toSourceJSON(src))
}

func (s *Server) listSources(c *gin.Context) {
	srcs, err := s.store.CatalogSources(c.Request.Context(), catalogOwner(c))
	if err != nil {
		s.fail(c, err)
		return
	}
	out := make([]sourceJSON, len(srcs))
	for i := range srcs {
		out[i] = toSourceJSON(&srcs[i])
	}
	writeJSON(c, http.StatusOK, gin.H{"sources": out})
}

func (s *Server) deleteSource(c *gin.Context) {
	id := c.Param("sourceID")
	if !store.ValidID(id) {
		s.fail(c, errNotFound)
		return
	}
	if err := s.store.DeleteCatalogSource(c.Request.Context(), catalogOwner(c), id); err != nil {
		s.fail(c, err)
		return
	}
	setAudit(c, auditInfo{Action: "catalog_source.delete", ObjectType: "catalog_source", ObjectID: id})
	c.Status(http.StatusNoContent)
}

// listCatalogEvents: the team's catalog events and the global catalog's, newest first.
func (s *Server) listCatalogEvents(c *gin.Context) {
	limit, err := queryLimit(c, 100, 1000)
	if err != nil {
		s.fail(c, err)
		return
	}
	before, err := queryID(c, "before")
	if err != nil {
		s.fail(c, err)
		return
	}
	events, err := s.store.CatalogEvents(c.Request.Context(), teamOf(c).ID, before, limit)
	if err != nil {
		s.fail(c, err)
		return
	}
	out := make([]catalogEventJSON, len(events))
	for i := range events {
		out[i] = toCatalogEventJSON(&events[i])
	}
	writeJSON(c, http.StatusOK, gin.H{"events": out})
}
