package server

import (
	"net/http"
	"regexp"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/backend/store"
)

// HeaderRequestID carries the request id in both directions.
const HeaderRequestID = "X-Request-ID"

const ctxRequestID = "talos.request_id"

// validRequestID accepts a caller's id only when it is short and plain, so it is safe to log.
var validRequestID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// requestID adopts the caller's X-Request-ID when sane, otherwise makes one, and echoes it.
func (s *Server) requestID(c *gin.Context) {
	id := c.GetHeader(HeaderRequestID)
	if !validRequestID.MatchString(id) {
		id = uuid.NewString()
	}
	c.Set(ctxRequestID, id)
	c.Header(HeaderRequestID, id)
	c.Next()
}

func requestIDOf(c *gin.Context) string { return c.GetString(ctxRequestID) }

// requestLog writes one line per request. The query string is left out: nothing secret belongs
// there, but nothing useful either.
func (s *Server) requestLog(c *gin.Context) {
	start := s.opts.Now()
	c.Next()
	fields := []zap.Field{
		zap.String("request_id", requestIDOf(c)),
		zap.String("method", c.Request.Method),
		zap.String("path", c.Request.URL.Path),
		zap.Int("status", c.Writer.Status()),
		zap.Duration("latency", s.opts.Now().Sub(start)),
		zap.String("client", c.ClientIP()),
		zap.Int("bytes", c.Writer.Size()),
	}
	if p := principalOf(c); p != nil {
		fields = append(fields, zap.String("actor", p.ActorID()))
	}
	switch status := c.Writer.Status(); {
	case status >= 500:
		s.log.Error("request", fields...)
	case status >= 400:
		s.log.Info("request", fields...)
	default:
		s.log.Debug("request", fields...)
	}
}

// recovery turns a panic in a handler into a logged 500 with the usual error body.
func (s *Server) recovery() gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			rec := recover()
			if rec == nil {
				return
			}
			if rec == http.ErrAbortHandler { //nolint:errorlint // a sentinel value passed to panic, not a wrapped error
				panic(rec) // the client went away; net/http handles this one itself
			}
			s.log.Error("handler panic", zap.String("request_id", requestIDOf(c)),
				zap.Any("panic", rec), zap.Stack("stack"))
			s.metrics.panics.Inc()
			if c.Writer.Written() {
				c.Abort()
				return
			}
			c.AbortWithStatusJSON(http.StatusInternalServerError,
				api.ErrorBody{Error: api.ErrorDetail{Code: codeInternal, Message: "internal error"}})
		}()
		c.Next()
	}
}

// limitBody caps request bodies: a declared length over the limit is refused at once with 413,
// and any body is cut off at the limit while it is read (decodeJSON then answers 413).
func (s *Server) limitBody(c *gin.Context) {
	limit := s.bodyLimit(c)
	if c.Request.ContentLength > limit {
		s.fail(c, &Error{http.StatusRequestEntityTooLarge, api.ErrBodyTooLarge,
			"the body exceeds the size limit", ""})
		return
	}
	if c.Request.Body != nil {
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, limit)
	}
	c.Next()
}

// eventsRoute is the one route whose body limit the protocol fixes: a satellite sends event
// batches of up to api.MaxEventBatchBytes, whatever the server's general limit, and an
// operator lowering TALOS_MAX_BODY_BYTES must not make stations drop their events.
const eventsRoute = "/api/satellites/:satelliteID/events"

// bodyLimit is the largest body accepted on c's route, in bytes.
func (s *Server) bodyLimit(c *gin.Context) int64 {
	if c.Request.Method == http.MethodPost && c.FullPath() == eventsRoute {
		return max(s.opts.MaxBodyBytes, api.MaxEventBatchBytes)
	}
	// A catalog file is far larger than any JSON request (the public catalog as OMM JSON is
	// about 15 MB); only administrators reach these routes, after authentication.
	if c.Request.Method == http.MethodPost && (c.FullPath() == teamImportRoute || c.FullPath() == globalImportRoute) {
		return max(s.opts.MaxBodyBytes, s.opts.MaxImportBytes)
	}
	// An upload chunk's size is the protocol's, like an event batch's.
	if c.Request.Method == http.MethodPatch && c.FullPath() == uploadRoute {
		return max(s.opts.MaxBodyBytes, api.MaxUploadChunkBytes)
	}
	// A release artifact (a station binary, tens of MB); global administrators only.
	if c.Request.Method == http.MethodPost && c.FullPath() == releasesRoute {
		return max(s.opts.MaxBodyBytes, api.MaxReleaseBytes)
	}
	return s.opts.MaxBodyBytes
}

// commandStatusRoute is where a satellite reports a command's progress; the report is
// idempotent (the same report twice is answered the same and changes nothing more).
const commandStatusRoute = "/api/satellites/:satelliteID/commands/:commandID/status"

// markIdempotent tells the store which requests may have a statement run twice after a lost
// database connection (store.Idempotent): every safe method, and the protocol calls that are
// idempotent by design (an event batch stores each event id once; a status report is
// idempotent).
func (s *Server) markIdempotent(c *gin.Context) {
	route := c.FullPath()
	if !unsafeMethod(c.Request.Method) ||
		(c.Request.Method == http.MethodPost && (route == eventsRoute || route == commandStatusRoute)) {
		c.Request = c.Request.WithContext(store.Idempotent(c.Request.Context()))
	}
	c.Next()
}

// unsafeMethod reports whether method may change state (everything but GET, HEAD, OPTIONS).
func unsafeMethod(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

// sinceSeconds is a duration in seconds, as Prometheus wants it.
func sinceSeconds(start, end time.Time) float64 { return end.Sub(start).Seconds() }
