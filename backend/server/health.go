package server

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"go.uber.org/zap"

	"github.com/talos-gs/talos/backend/api"
)

// healthJSON answers GET /api/health.
type healthJSON struct {
	Status   string           `json:"status"`   // ok or unavailable
	Database string           `json:"database"` // ok or down
	Version  string           `json:"version"`
	Error    *api.ErrorDetail `json:"error,omitempty"`
}

// health is the liveness and readiness check: 200 when the database answers a query within
// 2 s, 503 otherwise. Load balancers and `make run` users poll it.
//
// The endpoint is anonymous, so the answer names no cause: a driver's error carries the
// database's host, port, user and name. The details go to the log, where operators look.
func (s *Server) health(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		s.log.Warn("health check: database down", zap.String("request_id", requestIDOf(c)), zap.Error(err))
		writeJSON(c, http.StatusServiceUnavailable, healthJSON{
			Status: "unavailable", Database: "down", Version: api.Version,
			Error: &api.ErrorDetail{Code: codeUnavailable, Message: "database unreachable"},
		})
		return
	}
	writeJSON(c, http.StatusOK, healthJSON{Status: "ok", Database: "ok", Version: api.Version})
}
