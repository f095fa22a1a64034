package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/backend/artifacts"
	"github.com/talos-gs/talos/backend/store"
)

// The user side of artifacts: listing per observation (or process), downloading with range
// requests, the frames index, and a team's own quota and retention. Every route is team-scoped;
// viewers may read and download; settings change by global administrators only (a team must
// not raise its own quota).
func (s *Server) artifactRoutes() {
	g := s.teamAPI.Group("", s.requireArtifacts)
	g.GET("/artifacts", s.listArtifacts)
	g.GET("/artifacts/:artifactID", s.getArtifact)
	g.GET("/artifacts/:artifactID/content", s.downloadArtifact)
	g.GET("/frames", s.listFrames)
	g.GET("/artifact-settings", s.getArtifactSettings)
	// A global administrator's setting: the admin scope, not operate.
	g.PUT("/artifact-settings", s.requireAdmin, s.putArtifactSettings)
}

func (s *Server) requireArtifacts(c *gin.Context) {
	if s.opts.Artifacts == nil {
		s.fail(c, &Error{http.StatusServiceUnavailable, codeArtifactsOff, "this backend stores no artifacts", ""})
		return
	}
	c.Next()
}

// artifactJSON is an artifact in the user API.
type artifactJSON struct {
	ID            string    `json:"id"`
	TeamID        string    `json:"team_id"`
	SatelliteID   string    `json:"satellite_id"`
	Source        string    `json:"source"`
	SourceID      string    `json:"source_id"`
	Kind          string    `json:"kind"`
	Name          string    `json:"name"`
	Size          int64     `json:"size"`
	SHA256        string    `json:"sha256"`
	ContentType   string    `json:"content_type,omitempty"`
	FramesSkipped int       `json:"frames_skipped,omitempty"`
	CreatedAt     time.Time `json:"created_at"`
}

func toArtifactJSON(a *store.Artifact) artifactJSON {
	return artifactJSON{ID: a.ID, TeamID: a.TeamID, SatelliteID: a.SatelliteID, Source: a.Source, SourceID: a.SourceID,
		Kind: a.Kind, Name: a.Name, Size: a.Size, SHA256: a.SHA256, ContentType: a.ContentType,
		FramesSkipped: a.FramesSkipped, CreatedAt: a.CreatedAt.UTC()}
}

// sourceQuery reads ?observation_id= or ?command_id= (exactly one).
func sourceQuery(c *gin.Context) (string, string, error) {
	obs, cmd := c.Query("observation_id"), c.Query("command_id")
	switch {
	case obs != "" && cmd != "":
		return "", "", errInvalid("observation_id", "give observation_id or command_id, not both")
	case obs != "":
		if err := api.ValidateObservationID(obs); err != nil {
			return "", "", errInvalid("observation_id", "%v", err)
		}
		return api.SourceObservation, obs, nil
	case cmd != "":
		if !store.ValidID(cmd) {
			return "", "", errInvalid("command_id", "command_id must be a command id")
		}
		return api.SourceProcess, cmd, nil
	}
	return "", "", errInvalid("observation_id", "observation_id (or command_id, for a process.start) is required")
}

func (s *Server) listArtifacts(c *gin.Context) {
	source, id, err := sourceQuery(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	list, err := s.store.ListArtifacts(c.Request.Context(), teamOf(c).ID, source, id)
	if err != nil {
		s.fail(c, err)
		return
	}
	out := make([]artifactJSON, 0, len(list))
	for i := range list {
		out = append(out, toArtifactJSON(&list[i]))
	}
	c.JSON(http.StatusOK, gin.H{"artifacts": out})
}

func (s *Server) artifactOf(c *gin.Context) (*store.Artifact, bool) {
	id := c.Param("artifactID")
	if !store.ValidID(id) {
		s.fail(c, errNotFound)
		return nil, false
	}
	a, err := s.store.ArtifactInTeam(c.Request.Context(), teamOf(c).ID, id)
	if err != nil {
		s.fail(c, err)
		return nil, false
	}
	return a, true
}

func (s *Server) getArtifact(c *gin.Context) {
	if a, ok := s.artifactOf(c); ok {
		c.JSON(http.StatusOK, toArtifactJSON(a))
	}
}

// downloadArtifact serves the bytes with http.ServeContent: Range (so an audio player can
// seek), If-Range with the SHA-256 as ETag.
func (s *Server) downloadArtifact(c *gin.Context) {
	a, ok := s.artifactOf(c)
	if !ok {
		return
	}
	rs := artifacts.NewReadSeeker(c.Request.Context(), s.opts.Artifacts.Storage, a.StorageKey, a.Size)
	defer func() { _ = rs.Close() }()
	ct := a.ContentType
	if _, _, err := mime.ParseMediaType(ct); ct == "" || err != nil {
		ct = "application/octet-stream"
	}
	h := c.Writer.Header()
	h.Set("Content-Type", ct)
	h.Set("ETag", `"`+a.SHA256+`"`)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": a.Name}))
	http.ServeContent(c.Writer, c.Request, "", a.CreatedAt, rs)
}

// frameJSON is one indexed frame.
type frameJSON struct {
	Time       time.Time       `json:"time"`
	Hex        string          `json:"hex"`
	Fields     json.RawMessage `json:"fields,omitempty"`
	ArtifactID string          `json:"artifact_id"`
	Line       int             `json:"line"`
}

// Frame paging bounds.
const (
	defaultFramePage = 100
	maxFramePage     = 1000
)

func (s *Server) listFrames(c *gin.Context) {
	source, id, err := sourceQuery(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	offset, limit, err := framePage(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	ctx, team := c.Request.Context(), teamOf(c).ID
	sum, err := s.store.SummarizeFrames(ctx, team, source, id)
	if err != nil {
		s.fail(c, err)
		return
	}
	rows, err := s.store.ListFrames(ctx, team, source, id, offset, limit)
	if err != nil {
		s.fail(c, err)
		return
	}
	frames := make([]frameJSON, 0, len(rows))
	for _, f := range rows {
		fj := frameJSON{Time: f.Time, Hex: f.Data, ArtifactID: f.ArtifactID, Line: f.Seq + 1}
		if f.Fields != "" {
			fj.Fields = json.RawMessage(f.Fields)
		}
		frames = append(frames, fj)
	}
	resp := gin.H{"count": sum.Count, "first": sum.First, "last": sum.Last, "offset": offset, "frames": frames}
	if next := int64(offset + len(rows)); next < sum.Count {
		resp["next_offset"] = next
	}
	c.JSON(http.StatusOK, resp)
}

func framePage(c *gin.Context) (int, int, error) {
	offset, limit := 0, defaultFramePage
	if v := c.Query("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return 0, 0, errInvalid("offset", "offset must be a non-negative integer")
		}
		offset = n
	}
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxFramePage {
			return 0, 0, errInvalid("limit", "limit must be an integer from 1 to %d", maxFramePage)
		}
		limit = n
	}
	return offset, limit, nil
}

// artifactSettingsJSON is a team's effective quota and retention, and what it sets itself.
type artifactSettingsJSON struct {
	QuotaBytes       int64            `json:"quota_bytes"`
	UsedBytes        int64            `json:"used_bytes"`
	RetentionSeconds map[string]int64 `json:"retention_seconds"`
	Own              *ownSettingsJSON `json:"own,omitempty"`
}

// ownSettingsJSON is the body of PUT artifact-settings: null or a missing field keeps the
// backend's default.
type ownSettingsJSON struct {
	QuotaBytes       *int64           `json:"quota_bytes"`
	RetentionSeconds map[string]int64 `json:"retention_seconds,omitempty"`
}

func (o *ownSettingsJSON) validate() error {
	if o.QuotaBytes != nil && *o.QuotaBytes < 0 {
		return errInvalid("quota_bytes", "quota_bytes must be 0 or more")
	}
	raw, err := json.Marshal(o.RetentionSeconds)
	if err != nil {
		return err
	}
	if _, err := artifacts.ParseTeamRetention(string(raw)); err != nil {
		return errInvalid("retention_seconds", "%v", err)
	}
	return nil
}

func (s *Server) getArtifactSettings(c *gin.Context) {
	ctx, team := c.Request.Context(), teamOf(c).ID
	svc := s.opts.Artifacts
	out := artifactSettingsJSON{RetentionSeconds: map[string]int64{}}
	var err error
	if out.QuotaBytes, err = svc.Quota(ctx, team); err == nil {
		out.UsedBytes, err = s.store.TeamArtifactBytes(ctx, team)
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	own := map[string]time.Duration{}
	ts, err := s.store.ArtifactSettings(ctx, team)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		s.fail(c, err)
		return
	default:
		own, _ = artifacts.ParseTeamRetention(ts.Retention)
		out.Own = &ownSettingsJSON{QuotaBytes: ts.QuotaBytes, RetentionSeconds: map[string]int64{}}
		for k, v := range own {
			out.Own.RetentionSeconds[k] = int64(v / time.Second)
		}
	}
	for _, k := range api.ArtifactKinds {
		d, ok := own[k]
		if !ok {
			d = svc.Policy.Retention[k]
		}
		out.RetentionSeconds[k] = int64(d / time.Second)
	}
	c.JSON(http.StatusOK, out)
}

func (s *Server) putArtifactSettings(c *gin.Context) {
	var body ownSettingsJSON
	if !s.bind(c, &body) {
		return
	}
	raw := ""
	if len(body.RetentionSeconds) > 0 {
		b, err := json.Marshal(body.RetentionSeconds)
		if err != nil {
			s.fail(c, err)
			return
		}
		raw = string(b)
	}
	team := teamOf(c).ID
	if err := s.store.PutArtifactSettings(c.Request.Context(), &store.ArtifactTeamSettings{TeamID: team, QuotaBytes: body.QuotaBytes, Retention: raw}); err != nil {
		s.fail(c, err)
		return
	}
	setAudit(c, auditInfo{Action: "team.artifact_settings", ObjectType: "team", ObjectID: team,
		Detail: fmt.Sprintf("quota %v, retention %s", body.QuotaBytes, raw)})
	s.getArtifactSettings(c)
}
