package auth

import (
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
)

// Key prefixes name what a bearer key is for, so a server can route it to the right verifier
// and a leaked key is recognisable (secret scanners match on them).
const (
	// PrefixPersonal marks a user's personal API token.
	PrefixPersonal = "tpat"
)

const (
	keyIDBytes     = 10 // 80 bits: unique ids without coordination, 16 base32 characters
	keySecretBytes = 32 // 256-bit secret
)

// ErrMalformedKey means a bearer value does not have the shape <prefix>_<id>_<secret>.
var ErrMalformedKey = errors.New("malformed API key")

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// Key is an API key: Prefix_ID_Secret. ID is public and stored in clear as the row's primary
// key; only an argon2id hash of Secret is stored.
type Key struct {
	Prefix string
	ID     string
	Secret string
}

// String is the full key as handed to its owner once.
func (k Key) String() string { return k.Prefix + "_" + k.ID + "_" + k.Secret }

// NewKey makes a random key with the given prefix.
func NewKey(prefix string) (Key, error) {
	idb := make([]byte, keyIDBytes)
	if _, err := rand.Read(idb); err != nil {
		return Key{}, fmt.Errorf("new key id: %w", err)
	}
	secret, err := RandomString(keySecretBytes)
	if err != nil {
		return Key{}, fmt.Errorf("new key secret: %w", err)
	}
	return Key{Prefix: prefix, ID: idEncoding.EncodeToString(idb), Secret: secret}, nil
}

// ParseKey splits a bearer value into its parts and checks their shape (not the secret).
func ParseKey(s string) (Key, error) {
	prefix, rest, ok := strings.Cut(s, "_")
	if !ok || prefix == "" || len(prefix) > 16 {
		return Key{}, ErrMalformedKey
	}
	id, secret, ok := strings.Cut(rest, "_")
	if !ok || len(id) != idEncoding.EncodedLen(keyIDBytes) || len(secret) < 32 || len(secret) > 128 {
		return Key{}, ErrMalformedKey
	}
	if _, err := idEncoding.DecodeString(id); err != nil {
		return Key{}, ErrMalformedKey
	}
	return Key{Prefix: prefix, ID: id, Secret: secret}, nil
}
