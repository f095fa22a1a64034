package server

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"go.uber.org/zap"

	"github.com/talos-gs/talos/backend/store"
)

// auditInfo is what a handler tells the audit log about its call.
type auditInfo struct {
	Action     string // dotted verb, e.g. "team.rename"
	ObjectType string
	ObjectID   string
	TeamID     string
	Detail     string
	// Actor overrides the principal (login names the user before any principal exists).
	ActorID string
	// Always records the call even when it failed (failed logins).
	Always bool
}

const ctxAudit = "talos.audit"

// setAudit describes the current call for the audit log.
func setAudit(c *gin.Context, a auditInfo) { c.Set(ctxAudit, a) }

// audited writes an audit entry after every state-changing call that succeeded (status below
// 400), and after failures a handler marked Always. A handler that set no auditInfo still gets
// an entry naming its method and route, so no state change goes unrecorded.
func (s *Server) audited(c *gin.Context) {
	c.Next()
	if !unsafeMethod(c.Request.Method) {
		return
	}
	info, _ := c.Get(ctxAudit)
	a, described := info.(auditInfo)
	status := c.Writer.Status()
	if status >= http.StatusBadRequest && !a.Always {
		return
	}
	if !described {
		a.Action = c.Request.Method + " " + c.FullPath()
	}
	if a.TeamID == "" {
		a.TeamID = c.Param("teamID")
	}
	s.writeAudit(c, a, status)
}

func (s *Server) writeAudit(c *gin.Context, a auditInfo, status int) {
	e := &store.AuditEntry{
		ActorType: "anonymous", ActorID: a.ActorID, Action: a.Action, ObjectType: a.ObjectType,
		ObjectID: a.ObjectID, TeamID: a.TeamID, RequestID: requestIDOf(c), ClientAddr: c.ClientIP(),
		Status: status, Detail: a.Detail,
	}
	if p := principalOf(c); p != nil {
		e.ActorType, e.ActorID, e.TokenID = string(p.Kind), p.ActorID(), p.credentialID()
	} else if a.ActorID != "" {
		e.ActorType = string(ActorSession)
	}
	// The response is already written; the entry must be stored even if the client hung up.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), 5*time.Second)
	defer cancel()
	if err := s.store.AddAudit(ctx, e); err != nil {
		s.metrics.auditFailures.Inc()
		s.log.Error("audit entry lost", zap.String("request_id", e.RequestID),
			zap.String("action", e.Action), zap.Error(err))
	}
}

// auditJSON is an audit entry as the API shows it.
type auditJSON struct {
	ID         string    `json:"id"`
	At         time.Time `json:"at"`
	ActorType  string    `json:"actor_type"`
	ActorID    string    `json:"actor_id,omitempty"`
	TokenID    string    `json:"credential_id,omitempty"`
	Action     string    `json:"action"`
	ObjectType string    `json:"object_type,omitempty"`
	ObjectID   string    `json:"object_id,omitempty"`
	TeamID     string    `json:"team_id,omitempty"`
	RequestID  string    `json:"request_id,omitempty"`
	ClientAddr string    `json:"client_addr,omitempty"`
	Status     int       `json:"status"`
	Detail     string    `json:"detail,omitempty"`
}

func (s *Server) auditRoutes() {
	s.userAPI.GET("/audit", s.requireAdmin, s.listAudit)
	s.teamAPI.GET("/audit", s.listAudit)
}

// listAudit serves the global log (global administrators) and a team's log (team admins).
func (s *Server) listAudit(c *gin.Context) {
	q := store.AuditQuery{Limit: 100}
	if team := teamOf(c); team != nil {
		if !s.requireRole(c, store.RoleAdmin) {
			return
		}
		q.TeamID = team.ID
	}
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			s.fail(c, errInvalid("limit", "limit must be an integer from 1 to 1000"))
			return
		}
		q.Limit = n
	}
	if v := c.Query("before"); v != "" {
		if !store.ValidID(v) {
			s.fail(c, errInvalid("before", "before must be an audit entry id"))
			return
		}
		q.Before = v
	}
	entries, err := s.store.ListAudit(c.Request.Context(), q)
	if err != nil {
		s.fail(c, err)
		return
	}
	out := make([]auditJSON, len(entries))
	for i, e := range entries {
		out[i] = auditJSON(e)
	}
	writeJSON(c, http.StatusOK, gin.H{"entries": out})
}
