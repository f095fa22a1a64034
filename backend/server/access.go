package server

import (
	"net/http"
	"net/netip"
	"path"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/talos-gs/talos/backend/accounts"
)

// Error codes of the access rules below (docs/api-users.md).
const (
	codePasswordChangeRequired = "password_change_required"
	codeInsufficientScope      = "insufficient_scope"
)

var errPasswordChangeRequired = &Error{http.StatusForbidden, codePasswordChangeRequired,
	"you must change your password first: POST /api/me/password", ""}

// passwordChangeRoutes are the user routes open to a user who must change their password:
// reading who they are (so a UI can show the form) and changing it. Logging out is not a user
// route and stays open too.
var passwordChangeRoutes = map[string]bool{
	http.MethodGet + " /api/me":           true,
	http.MethodPost + " /api/me/password": true,
}

// routeKey names the matched route, e.g. "POST /api/me/password".
func routeKey(c *gin.Context) string { return c.Request.Method + " " + c.FullPath() }

// requirePasswordChanged refuses every user route but passwordChangeRoutes, with 403
// password_change_required, while the user must change their password (a new account, the
// first administrator), whatever credential the request carries.
func (s *Server) requirePasswordChanged(c *gin.Context) {
	if p := principalOf(c); p.User.MustChangePassword && !passwordChangeRoutes[routeKey(c)] {
		s.fail(c, errPasswordChangeRequired)
		return
	}
	c.Next()
}

// requireScope is the one place that holds personal tokens to their scopes (sessions have
// every scope): a safe request needs read, an unsafe route registered with operate needs
// operate, any other unsafe route needs admin (docs/decisions/0064).
func (s *Server) requireScope(c *gin.Context) {
	p := principalOf(c)
	if p.Kind != ActorToken {
		c.Next()
		return
	}
	if need := s.scopeNeeded(c); !p.Scopes.Allows(need) {
		s.fail(c, &Error{http.StatusForbidden, codeInsufficientScope,
			"this token's scopes (" + p.Scopes.String() + ") do not allow this request; it needs " + string(need), ""})
		return
	}
	c.Next()
}

func (s *Server) scopeNeeded(c *gin.Context) accounts.Scope {
	switch {
	case !unsafeMethod(c.Request.Method):
		return accounts.ScopeRead
	case s.operateRoutes[routeKey(c)]:
		return accounts.ScopeOperate
	}
	return accounts.ScopeAdmin
}

// operate registers an unsafe user route that operates a station (creating or cancelling its
// commands), which tokens with the operate scope may call; every other unsafe route needs admin.
func (s *Server) operate(g *gin.RouterGroup, method, relPath string, handlers ...gin.HandlerFunc) {
	s.operateRoutes[method+" "+path.Join(g.BasePath(), relPath)] = true
	g.Handle(method, relPath, handlers...)
}

// parseProxies reads the trusted proxies (addresses or CIDRs, as gin takes them) as prefixes.
func parseProxies(proxies []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(proxies))
	for _, p := range proxies {
		if strings.Contains(p, "/") {
			prefix, err := netip.ParsePrefix(p)
			if err != nil {
				return nil, err
			}
			out = append(out, prefix.Masked())
			continue
		}
		addr, err := netip.ParseAddr(p)
		if err != nil {
			return nil, err
		}
		out = append(out, netip.PrefixFrom(addr.Unmap(), addr.Unmap().BitLen()))
	}
	return out, nil
}

// overHTTPS reports whether the browser reached Talos over HTTPS: the server is configured so
// (TLS here, or an https public URL), the connection is TLS, or a trusted proxy says so in
// X-Forwarded-Proto. The header of anyone else is ignored: a client must not talk the server
// out of (or into) Secure cookies.
func (s *Server) overHTTPS(c *gin.Context) bool {
	if s.opts.SecureCookies || c.Request.TLS != nil {
		return true
	}
	proto, _, _ := strings.Cut(c.GetHeader("X-Forwarded-Proto"), ",")
	return strings.EqualFold(strings.TrimSpace(proto), "https") && s.fromTrustedProxy(c)
}

func (s *Server) fromTrustedProxy(c *gin.Context) bool {
	peer, err := netip.ParseAddrPort(c.Request.RemoteAddr)
	if err != nil {
		return false
	}
	addr := peer.Addr().Unmap()
	for _, p := range s.trustedProxies {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}
