package server

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/backend/releases"
	"github.com/talos-gs/talos/backend/store"
)

// releasesRoute takes a release artifact's bytes: its body limit is api.MaxReleaseBytes.
const releasesRoute = "/api/releases"

// releaseJSON is a release as the API shows it, with the runner.update payload that installs it.
type releaseJSON struct {
	ID            string                  `json:"id"`
	Version       string                  `json:"version"`
	OS            string                  `json:"os"`
	Arch          string                  `json:"arch"`
	Size          int64                   `json:"size"`
	SHA256        string                  `json:"sha256"`
	Signature     string                  `json:"signature"`
	CreatedBy     *string                 `json:"created_by"`
	CreatedAt     time.Time               `json:"created_at"`
	UpdatePayload api.RunnerUpdatePayload `json:"update_payload"`
}

func toReleaseJSON(r *store.Release) releaseJSON {
	return releaseJSON{ID: r.ID, Version: r.Version, OS: r.OS, Arch: r.Arch, Size: r.Size, SHA256: r.SHA256,
		Signature: r.Signature, CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt, UpdatePayload: releases.UpdatePayload(r)}
}

// releaseRoutes: global administrators upload, list and delete talos-satellite releases;
// satellites download them with their API key (the only place a station fetches anything from).
func (s *Server) releaseRoutes() {
	s.releases = &releases.Releases{Store: s.store, Dir: s.opts.ReleasesDir}
	s.userAPI.POST("/releases", s.requireAdmin, s.requireReleaseStore, s.uploadRelease)
	s.userAPI.GET("/releases", s.requireAdmin, s.listReleases)
	s.userAPI.GET("/releases/:releaseID", s.requireAdmin, s.getRelease)
	s.userAPI.DELETE("/releases/:releaseID", s.requireAdmin, s.requireReleaseStore, s.deleteRelease)
	s.engine.GET("/api/satellites/:satelliteID/releases/:releaseID", s.authenticate, s.requireSatellite,
		s.requireReleaseStore, s.downloadRelease)
}

func (s *Server) requireReleaseStore(c *gin.Context) {
	if s.opts.ReleasesDir == "" {
		s.fail(c, &Error{http.StatusServiceUnavailable, codeUnavailable, "this backend keeps no release artifacts (no releases directory)", ""})
		return
	}
	c.Next()
}

// uploadRelease takes the artifact as the raw body (application/octet-stream) and what the
// operator declares about it as query parameters: version, os, arch, size, sha256, signature.
func (s *Server) uploadRelease(c *gin.Context) {
	q := c.Request.URL.Query()
	size, err := strconv.ParseInt(q.Get("size"), 10, 64)
	if err != nil {
		s.fail(c, errInvalid("size", "size: want the artifact's length in bytes, got %q", q.Get("size")))
		return
	}
	up := releases.Upload{Version: q.Get("version"), OS: q.Get("os"), Arch: q.Get("arch"), Size: size,
		SHA256: q.Get("sha256"), Signature: q.Get("signature")}
	if p := principalOf(c); p != nil && p.User != nil {
		up.CreatedBy = &p.User.ID
	}
	rel, err := s.releases.Create(c.Request.Context(), up, c.Request.Body)
	var ie *releases.InvalidError
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &ie):
		s.fail(c, errInvalid(ie.Field, "%s: %s", ie.Field, ie.Message))
	case errors.As(err, &tooLarge):
		s.fail(c, &Error{http.StatusRequestEntityTooLarge, api.ErrBodyTooLarge, "the body exceeds the size limit", ""})
	case errors.Is(err, store.ErrConflict):
		s.fail(c, &Error{http.StatusConflict, api.ErrConflict, "a release of this version, os and arch exists; delete it first", "version"})
	case err != nil:
		s.fail(c, err)
	default:
		writeJSON(c, http.StatusCreated, toReleaseJSON(rel))
	}
}

func (s *Server) listReleases(c *gin.Context) {
	rels, err := s.store.Releases(c.Request.Context())
	if err != nil {
		s.fail(c, err)
		return
	}
	out := make([]releaseJSON, len(rels))
	for i := range rels {
		out[i] = toReleaseJSON(&rels[i])
	}
	writeJSON(c, http.StatusOK, gin.H{"releases": out})
}

func (s *Server) getRelease(c *gin.Context) {
	id := c.Param("releaseID")
	if !store.ValidID(id) {
		s.fail(c, errNotFound)
		return
	}
	rel, err := s.store.ReleaseByID(c.Request.Context(), id)
	if err != nil {
		s.fail(c, err)
		return
	}
	writeJSON(c, http.StatusOK, toReleaseJSON(rel))
}

func (s *Server) deleteRelease(c *gin.Context) {
	id := c.Param("releaseID")
	if !store.ValidID(id) {
		s.fail(c, errNotFound)
		return
	}
	if err := s.releases.Delete(c.Request.Context(), id); err != nil {
		s.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// downloadRelease serves the artifact with Range support (http.ServeContent), so a station on a
// poor link can resume.
func (s *Server) downloadRelease(c *gin.Context) {
	id := c.Param("releaseID")
	if !store.ValidID(id) {
		s.fail(c, errNotFound)
		return
	}
	rel, f, err := s.releases.Open(c.Request.Context(), id)
	if err != nil {
		s.fail(c, err)
		return
	}
	defer func() { _ = f.Close() }()
	c.Header("Content-Type", "application/octet-stream")
	c.Header("X-Talos-Release-SHA256", rel.SHA256)
	http.ServeContent(c.Writer, c.Request, rel.Version, rel.CreatedAt, f)
}
