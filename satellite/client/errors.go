package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/talos-gs/talos/backend/api"
)

// ErrUnauthorized matches (errors.Is) a 401 from the backend: the API key was revoked or
// rotated. Retrying cannot help; the station must be registered again.
var ErrUnauthorized = errors.New("backend rejected the API key (401): it was revoked or rotated; run `talos-satellite register` again")

// APIError is a non-2xx answer from the backend.
type APIError struct {
	Status int
	// Code and Message come from the JSON error body; Code is empty when the body was not one.
	Code    string
	Message string
	Field   string
	// RetryAfter is the backend's Retry-After, zero when absent.
	RetryAfter time.Duration
}

func (e *APIError) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("backend answered %d %s", e.Status, http.StatusText(e.Status))
	}
	return fmt.Sprintf("backend answered %d %s: %s", e.Status, e.Code, e.Message)
}

// Is lets errors.Is(err, ErrUnauthorized) match a 401.
func (e *APIError) Is(target error) bool {
	return target == ErrUnauthorized && e.Status == http.StatusUnauthorized
}

func newAPIError(status int, h http.Header, body []byte) *APIError {
	e := &APIError{Status: status}
	var eb api.ErrorBody
	if json.Unmarshal(body, &eb) == nil {
		e.Code, e.Message, e.Field = eb.Error.Code, eb.Error.Message, eb.Error.Field
	}
	// Capped at a day, which also keeps the multiplication from overflowing.
	if s, err := strconv.Atoi(h.Get("Retry-After")); err == nil && s > 0 {
		e.RetryAfter = time.Duration(min(s, 86400)) * time.Second
	}
	return e
}

// TransportError is a failure before an HTTP answer arrived (DNS, TCP, TLS, timeout, a proxy
// cutting the connection).
type TransportError struct {
	Err error
	// Connected is true when a connection to the backend (or to the proxy on the way) was
	// open when the call failed: the request was cut in flight. It is false when no
	// connection could be made at all (connection refused, no route, DNS): the backend is
	// down or restarting, which says nothing about the path cutting long requests.
	Connected bool
}

func (e *TransportError) Error() string { return "no answer from backend: " + e.Err.Error() }
func (e *TransportError) Unwrap() error { return e.Err }

// ProtocolError is a 2xx answer whose body is not what the protocol says.
type ProtocolError struct {
	Status int
	Err    error
}

func (e *ProtocolError) Error() string {
	return fmt.Sprintf("backend answered %d with a malformed body: %v", e.Status, e.Err)
}
func (e *ProtocolError) Unwrap() error { return e.Err }

// Retryable is the one place that decides whether a failed call may succeed when repeated:
// transport failures, timeouts, malformed answers (a proxy page), 408, 429 and 5xx are; 401 and
// the other 4xx are not (the same request will be refused again), nor is a cancelled context.
func Retryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		switch {
		case apiErr.Status == http.StatusRequestTimeout, apiErr.Status == http.StatusTooManyRequests:
			return true
		case apiErr.Status >= 500:
			return true
		}
		return false
	}
	return true
}

// NoAnswer reports whether a request that reached the path got no answer from the backend: the
// signature of a proxy or load balancer cutting a long request. A connection that could not be
// made at all is not one (see Unreachable).
func NoAnswer(err error) bool {
	var te *TransportError
	var pe *ProtocolError
	var apiErr *APIError
	if errors.As(err, &te) {
		return te.Connected
	}
	if errors.As(err, &pe) {
		return true
	}
	// A gateway error from a proxy (502/504) without the backend's JSON body is not the backend.
	return errors.As(err, &apiErr) && apiErr.Code == "" &&
		(apiErr.Status == http.StatusBadGateway || apiErr.Status == http.StatusGatewayTimeout)
}

// Unreachable reports whether err is a call that found nobody to talk to: no connection could
// be made (connection refused, no route, DNS failure, dial timeout). That is what a restarting
// backend looks like; the caller retries soon rather than slowing down.
func Unreachable(err error) bool {
	var te *TransportError
	return errors.As(err, &te) && !te.Connected
}

// dialFailed reports whether err comes from making the connection (not from using one): Go's
// transport may get a pooled connection, find it closed and dial again, so "a connection was
// seen" alone does not prove the request was in flight.
func dialFailed(err error) bool {
	var op *net.OpError
	var dns *net.DNSError
	return errors.As(err, &dns) || (errors.As(err, &op) && op.Op == "dial")
}

// RedirectError is a 3xx answer. The client never follows one: every call carries a credential
// that must go to the configured backend and nowhere else.
type RedirectError struct {
	Status int
	// From is the URL asked (without credentials), Location where the answer pointed.
	From, Location string
}

func (e *RedirectError) Error() string {
	return fmt.Sprintf("backend answered %d %s redirecting %s to %q; the runner does not follow redirects "+
		"(its API key or registration token would go along): set the backend URL to the address that answers directly",
		e.Status, http.StatusText(e.Status), e.From, e.Location)
}
