package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
)

// sessionTokenBytes is the entropy of a session cookie: 256 bits.
const sessionTokenBytes = 32

// NewSessionToken returns a random session token for the cookie.
func NewSessionToken() (string, error) { return RandomString(sessionTokenBytes) }

// HashSessionToken is what the database stores for a session token. A session token has 256
// random bits, so a fast hash is enough to make a database leak useless (no guessing is
// feasible); argon2id would only slow every request.
func HashSessionToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// CSRF derives per-session CSRF tokens with HMAC-SHA256 under the server's secret key, so they
// need no storage and cannot be forged without the key.
type CSRF struct {
	key []byte
}

// NewCSRF returns a CSRF helper keyed with secret (the server's secret key).
func NewCSRF(secret []byte) *CSRF {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte("talos csrf v1")) // derive a sub-key: the secret key serves other purposes too
	return &CSRF{key: mac.Sum(nil)}
}

// Token returns the CSRF token of the session with this id.
func (c *CSRF) Token(sessionID string) string {
	mac := hmac.New(sha256.New, c.key)
	mac.Write([]byte(sessionID))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// Valid reports, in constant time, whether token is the CSRF token of sessionID.
func (c *CSRF) Valid(sessionID, token string) bool {
	return token != "" && hmac.Equal([]byte(c.Token(sessionID)), []byte(token))
}
