package server

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/tus/tusd/v2/pkg/filelocker"
	"github.com/tus/tusd/v2/pkg/filestore"
	tus "github.com/tus/tusd/v2/pkg/handler"
	"go.uber.org/zap"
	"golang.org/x/exp/slog"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/backend/artifacts"
	"github.com/talos-gs/talos/backend/store"
)

// The upload routes: the tus 1.0 core, creation and termination protocol
// (docs/protocol.md "Uploads", docs/decisions/0094-tus-uploads.md), served by tusd's handler on
// a filestore staging directory, each request authenticated with the satellite's key like the
// other satellite routes. A finished upload becomes an artifact through backend/artifacts.
const (
	uploadsRoute     = "/api/satellites/:satelliteID/uploads"
	uploadRoute      = uploadsRoute + "/:uploadID"
	codeArtifactsOff = "artifacts_disabled"
	// Metadata keys the backend sets itself on every upload (a client's own values are
	// overwritten): who may continue it and which team it counts against.
	metaSatellite = "talos_satellite_id"
	metaTeam      = "talos_team_id"
)

// uploads is the tus side of the server; nil when Options.Artifacts is not set.
type uploads struct {
	svc   *artifacts.Service
	store filestore.FileStore
	tus   *tus.UnroutedHandler
}

type ctxKeyUploadSatellite struct{}

func (s *Server) newUploads() error {
	if s.opts.Artifacts == nil {
		return nil
	}
	if s.opts.UploadDir == "" {
		return errors.New("artifacts need an upload staging directory (Options.UploadDir)")
	}
	fs := filestore.New(s.opts.UploadDir)
	fs.DirModePerm, fs.FileModePerm = 0o700, 0o600
	composer := tus.NewStoreComposer()
	fs.UseIn(composer)
	filelocker.New(s.opts.UploadDir).UseIn(composer)
	u := &uploads{svc: s.opts.Artifacts, store: fs}
	h, err := tus.NewUnroutedHandler(tus.Config{
		StoreComposer: composer, BasePath: "/", MaxSize: api.MaxArtifactBytes,
		DisableDownload: true, DisableConcatenation: true,
		Logger:                    slog.New(slog.NewTextHandler(io.Discard, nil)), // our own logs say what matters,
		PreUploadCreateCallback:   s.tusCreate,
		PreFinishResponseCallback: s.tusFinish,
		NetworkTimeout:            time.Minute,
	})
	if err != nil {
		return fmt.Errorf("tus handler: %w", err)
	}
	u.tus = h
	s.uploads = u
	return nil
}

func (s *Server) uploadRoutes() {
	g := s.engine.Group(uploadsRoute, s.authenticate, s.requireSatellite, s.requireUploads)
	g.POST("", s.uploadCreate)
	g.HEAD("/:uploadID", s.ownUpload, s.uploadOffset)
	g.PATCH("/:uploadID", s.ownUpload, s.uploadChunk)
	g.DELETE("/:uploadID", s.ownUpload, s.uploadTerminate)
}

// The four tus requests: creation (POST), offset (HEAD), a chunk (PATCH), termination (DELETE).
func (s *Server) uploadCreate(c *gin.Context) { s.serveTus(c, "", s.uploads.tus.PostFile) }
func (s *Server) uploadOffset(c *gin.Context) {
	s.serveTus(c, c.Param("uploadID"), s.uploads.tus.HeadFile)
}
func (s *Server) uploadChunk(c *gin.Context) {
	s.serveTus(c, c.Param("uploadID"), s.uploads.tus.PatchFile)
}
func (s *Server) uploadTerminate(c *gin.Context) {
	s.serveTus(c, c.Param("uploadID"), s.uploads.tus.DelFile)
}

func (s *Server) requireUploads(c *gin.Context) {
	if s.uploads == nil {
		s.fail(c, &Error{http.StatusServiceUnavailable, codeArtifactsOff, "this backend stores no artifacts", ""})
		return
	}
	c.Next()
}

// serveTus hands the request to tusd with the upload id as its path (tusd takes the id from
// the path) and the satellite in its context, and rewrites the Location of a created upload to
// this satellite's route.
func (s *Server) serveTus(c *gin.Context, id string, h http.HandlerFunc) {
	sat := authSatellite(c)
	r := c.Request.WithContext(context.WithValue(c.Request.Context(), ctxKeyUploadSatellite{}, sat))
	u := *r.URL
	u.Path, u.RawPath = "/"+id, ""
	r.URL = &u
	w := &locationWriter{ResponseWriter: c.Writer, base: "/api/satellites/" + sat.ID + "/uploads/"}
	s.uploads.tus.Middleware(h).ServeHTTP(w, r)
}

// locationWriter turns tusd's Location (base path "/") into the satellite's upload route.
type locationWriter struct {
	gin.ResponseWriter
	base string
}

func (w *locationWriter) WriteHeader(code int) {
	if loc := w.Header().Get("Location"); loc != "" {
		if i := strings.LastIndex(loc, "/"); i >= 0 {
			w.Header().Set("Location", w.base+loc[i+1:])
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

// validUploadID: filestore's ids are 32 hex digits; anything else could name a file outside
// the staging directory.
func validUploadID(id string) bool {
	_, err := hex.DecodeString(id)
	return len(id) == 32 && err == nil
}

// ownUpload admits requests on an upload the authenticated satellite created (others: 404).
// On an upload already whole it records the artifact first (again, if the answer to the last
// PATCH was lost or the backend stopped before recording it), so the answer carries its id.
func (s *Server) ownUpload(c *gin.Context) {
	id := c.Param("uploadID")
	if !validUploadID(id) {
		s.fail(c, errNotFound)
		return
	}
	up, err := s.uploads.store.GetUpload(c.Request.Context(), id)
	if err != nil {
		s.fail(c, errNotFound)
		return
	}
	info, err := up.GetInfo(c.Request.Context())
	if err != nil || info.MetaData[metaSatellite] != authSatellite(c).ID {
		s.fail(c, errNotFound)
		return
	}
	if c.Request.Method == http.MethodDelete || info.SizeIsDeferred || info.Offset != info.Size {
		c.Next()
		return
	}
	a, err := s.finishUpload(c.Request.Context(), authSatellite(c), info)
	if err != nil {
		s.failUpload(c, err)
		return
	}
	c.Header(api.HeaderArtifactID, a.ID)
	c.Next()
}

// tusCreate admits a new upload (artifacts.Service.Admit) and stamps it with the satellite and
// team.
func (s *Server) tusCreate(hook tus.HookEvent) (tus.HTTPResponse, tus.FileInfoChanges, error) {
	sat, _ := hook.Context.Value(ctxKeyUploadSatellite{}).(*store.Satellite)
	if sat == nil {
		return tus.HTTPResponse{}, tus.FileInfoChanges{}, tusError(http.StatusUnauthorized, api.ErrUnauthorized, "a satellite key is required", "")
	}
	if hook.Upload.SizeIsDeferred {
		return tus.HTTPResponse{}, tus.FileInfoChanges{}, tusError(http.StatusBadRequest, api.ErrInvalidRequest, "Upload-Length is required", "Upload-Length")
	}
	meta, err := api.ParseUploadMeta(hook.Upload.MetaData)
	if err != nil {
		return tus.HTTPResponse{}, tus.FileInfoChanges{}, uploadRefusal(err)
	}
	team, err := s.uploads.svc.Admit(hook.Context, sat, meta, hook.Upload.Size)
	if err != nil {
		s.log.Info("upload refused", zap.String("satellite_id", sat.ID), zap.String("source_id", meta.SourceID), zap.Error(err))
		return tus.HTTPResponse{}, tus.FileInfoChanges{}, uploadRefusal(err)
	}
	md := tus.MetaData{}
	for k, v := range hook.Upload.MetaData {
		md[k] = v
	}
	md[metaSatellite], md[metaTeam] = sat.ID, team
	return tus.HTTPResponse{}, tus.FileInfoChanges{MetaData: md}, nil
}

// tusFinish records the artifact when the last byte arrived, before tusd answers the PATCH.
func (s *Server) tusFinish(hook tus.HookEvent) (tus.HTTPResponse, error) {
	sat, _ := hook.Context.Value(ctxKeyUploadSatellite{}).(*store.Satellite)
	if sat == nil {
		return tus.HTTPResponse{}, tusError(http.StatusUnauthorized, api.ErrUnauthorized, "a satellite key is required", "")
	}
	a, err := s.finishUpload(hook.Context, sat, hook.Upload)
	if err != nil {
		return tus.HTTPResponse{}, uploadRefusal(err)
	}
	return tus.HTTPResponse{Header: tus.HTTPHeader{api.HeaderArtifactID: a.ID}}, nil
}

// finishUpload records a whole upload as an artifact. A hash mismatch deletes the upload: the
// station uploads the file again from the start.
func (s *Server) finishUpload(ctx context.Context, sat *store.Satellite, info tus.FileInfo) (*store.Artifact, error) {
	meta, err := api.ParseUploadMeta(info.MetaData)
	if err != nil {
		return nil, err
	}
	a, err := s.uploads.svc.Finish(ctx, artifacts.Upload{ID: info.ID, Satellite: sat, Meta: meta, Size: info.Size,
		Open: func() (io.ReadCloser, error) {
			up, err := s.uploads.store.GetUpload(ctx, info.ID)
			if err != nil {
				return nil, err
			}
			return up.GetReader(ctx)
		}})
	if errors.Is(err, artifacts.ErrHashMismatch) {
		s.log.Warn("upload refused: hash mismatch, deleted", zap.String("satellite_id", sat.ID), zap.String("upload_id", info.ID), zap.Error(err))
		s.terminateUpload(ctx, info.ID)
		return nil, err
	}
	return a, err
}

// terminateUpload deletes a staged upload's files; a later HEAD on it answers 404.
func (s *Server) terminateUpload(ctx context.Context, id string) {
	up, err := s.uploads.store.GetUpload(ctx, id)
	if err == nil {
		err = s.uploads.store.AsTerminatableUpload(up).Terminate(ctx)
	}
	if err != nil {
		s.log.Warn("remove staged upload", zap.String("upload_id", id), zap.Error(err))
	}
}

// uploadRefusal maps the upload rules' errors to tus answers with the JSON error body.
func uploadRefusal(err error) error {
	var fe *api.UploadFieldError
	switch {
	case errors.As(err, &fe):
		return tusError(http.StatusBadRequest, api.ErrInvalidRequest, "Upload-Metadata "+fe.Error(), fe.Field)
	case errors.Is(err, artifacts.ErrHashMismatch):
		return tusError(http.StatusConflict, api.ErrUploadHashMismatch, err.Error(), api.UploadMetaSHA256)
	case errors.Is(err, artifacts.ErrQuota):
		return tusError(http.StatusRequestEntityTooLarge, api.ErrUploadQuota, err.Error(), "")
	case errors.Is(err, artifacts.ErrTooLarge):
		return tusError(http.StatusRequestEntityTooLarge, api.ErrBodyTooLarge, err.Error(), "Upload-Length")
	case errors.Is(err, artifacts.ErrKindNotAllowed):
		return tusError(http.StatusUnprocessableEntity, api.ErrUploadKind, err.Error(), api.UploadMetaKind)
	case errors.Is(err, artifacts.ErrNotBound):
		return tusError(http.StatusForbidden, api.ErrUploadNotBound, err.Error(), api.UploadMetaSourceID)
	}
	return err // tusd answers 500 and logs it
}

func tusError(status int, code, msg, field string) tus.Error {
	body, _ := json.Marshal(api.ErrorBody{Error: api.ErrorDetail{Code: code, Message: msg, Field: field}})
	return tus.Error{ErrorCode: code, Message: msg, HTTPResponse: tus.HTTPResponse{StatusCode: status, Body: string(body),
		Header: tus.HTTPHeader{"Content-Type": "application/json; charset=utf-8"}}}
}

// failUpload answers a gin request with an upload rule's error.
func (s *Server) failUpload(c *gin.Context, err error) {
	var te tus.Error
	if errors.As(uploadRefusal(err), &te) {
		c.Header("Tus-Resumable", "1.0.0")
		c.Data(te.HTTPResponse.StatusCode, "application/json; charset=utf-8", []byte(te.HTTPResponse.Body))
		c.Abort()
		return
	}
	s.fail(c, err)
}

// Staged uploads are kept for a while after they became artifacts, so a station whose answer
// to the last PATCH was lost still learns the artifact's id from a HEAD; abandoned ones are
// kept for as long as a station may take to come back.
const (
	keepFinishedUploads  = time.Hour
	keepAbandonedUploads = 7 * 24 * time.Hour
)

// PruneUploads deletes staged uploads recorded as artifacts more than an hour ago and uploads
// untouched for 7 days, and returns how many it deleted. The sweeper runs it.
func (s *Server) PruneUploads(ctx context.Context) (int, error) {
	if s.uploads == nil {
		return 0, nil
	}
	entries, err := os.ReadDir(s.opts.UploadDir)
	if err != nil {
		return 0, fmt.Errorf("prune uploads: %w", err)
	}
	now, n := s.opts.Now(), 0
	for _, e := range entries {
		id, ok := strings.CutSuffix(e.Name(), ".info")
		if !ok || !validUploadID(id) {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue
		}
		age := now.Sub(fi.ModTime())
		_, err = s.store.ArtifactByUpload(ctx, id)
		recorded := err == nil
		if (recorded && age > keepFinishedUploads) || age > keepAbandonedUploads {
			s.terminateUpload(ctx, id)
			n++
		}
	}
	return n, nil
}
