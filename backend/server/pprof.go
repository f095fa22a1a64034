package server

import (
	"net/http"
	"net/http/pprof"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/talos-gs/talos/backend/accounts"
)

// pprofRoutes serves Go's profiles under /debug/pprof/ when Options.Pprof is set, to global
// administrators only: a session, or a personal token with the admin scope. Profiles reveal the
// program's internals and a CPU profile costs the server while it runs, so they are off by
// default and never anonymous; with the switch off the routes do not exist (404).
func (s *Server) pprofRoutes() {
	if !s.opts.Pprof {
		return
	}
	g := s.engine.Group("/debug/pprof", s.authenticate, s.audited, s.requireUser, s.requirePasswordChanged,
		s.requireAdmin, s.requireAdminScope)
	g.GET("/*profile", servePprof)
	g.POST("/symbol", gin.WrapF(pprof.Symbol)) // go tool pprof posts the addresses to look up
}

// requireAdminScope admits sessions and personal tokens with the admin scope.
func (s *Server) requireAdminScope(c *gin.Context) {
	if p := principalOf(c); p != nil && p.Kind == ActorToken && !p.Scopes.Allows(accounts.ScopeAdmin) {
		s.fail(c, &Error{http.StatusForbidden, codeInsufficientScope,
			"profiles need a token with the admin scope (this one has " + p.Scopes.String() + ")", ""})
		return
	}
	c.Next()
}

// servePprof hands one profile request to net/http/pprof (whose Index serves the named profiles
// and the listing from the request path).
func servePprof(c *gin.Context) {
	w, r := c.Writer, c.Request
	switch strings.TrimPrefix(c.Param("profile"), "/") {
	case "cmdline":
		pprof.Cmdline(w, r)
	case "profile":
		pprof.Profile(w, r)
	case "symbol":
		pprof.Symbol(w, r)
	case "trace":
		pprof.Trace(w, r)
	default:
		pprof.Index(w, r)
	}
}
