package accounts

import (
	"slices"
	"strings"
)

// Scope is what a personal API token may do, on top of what its user's roles allow
// (docs/decisions/0064). Scopes are ranked: each allows everything the ones below it allow.
type Scope string

// The scopes, weakest first.
const (
	// ScopeRead allows safe requests only (GET, HEAD, OPTIONS).
	ScopeRead Scope = "read"
	// ScopeOperate also allows operating stations: creating and cancelling their commands.
	ScopeOperate Scope = "operate"
	// ScopeAdmin allows everything the user's roles allow.
	ScopeAdmin Scope = "admin"
)

var scopeRank = map[Scope]int{ScopeRead: 1, ScopeOperate: 2, ScopeAdmin: 3}

// Scopes is a token's set of scopes, sorted weakest first, without duplicates.
type Scopes []Scope

// ParseScopes validates scope names from outside input; field names the input in errors.
func ParseScopes(field string, names []string) (Scopes, error) {
	if len(names) == 0 {
		return nil, &FieldError{field, "must name at least one of read, operate, admin"}
	}
	out := make(Scopes, 0, len(names))
	for _, n := range names {
		s := Scope(n)
		if scopeRank[s] == 0 {
			return nil, &FieldError{field, "must hold only read, operate or admin"}
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b Scope) int { return scopeRank[a] - scopeRank[b] })
	return out, nil
}

// ScopesFromStore reads the stored form (names separated by spaces). Unknown names are
// dropped: a token never gains power from a value this version does not know.
func ScopesFromStore(v string) Scopes {
	var out Scopes
	for _, n := range strings.Fields(v) {
		if s := Scope(n); scopeRank[s] > 0 && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b Scope) int { return scopeRank[a] - scopeRank[b] })
	return out
}

// String is the stored form.
func (s Scopes) String() string {
	names := make([]string, len(s))
	for i, sc := range s {
		names[i] = string(sc)
	}
	return strings.Join(names, " ")
}

// Allows reports whether one of s allows what need allows.
func (s Scopes) Allows(need Scope) bool {
	for _, have := range s {
		if scopeRank[have] >= scopeRank[need] {
			return true
		}
	}
	return false
}

// Covers reports whether s allows everything other allows: a token may only mint tokens its
// own scopes cover.
func (s Scopes) Covers(other Scopes) bool {
	for _, need := range other {
		if !s.Allows(need) {
			return false
		}
	}
	return true
}
