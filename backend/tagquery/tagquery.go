// Package tagquery is the small, strict language that selects stations by their tags and
// capabilities (docs/operations.md, docs/decisions/0101-tag-query-language.md):
//
//	band=uhf AND rotator=az-el
//	(site=campus-a OR site=campus-b) AND NOT has(maintenance-window)
//	capability:rotator AND band!=vhf
//
// Terms: key=value (the tag is set to value), key!=value (the tag is not set to value: a
// station without the tag matches, as in Kubernetes label selectors), has(key) (the tag is set),
// capability:name (the station reports that capability). Operators, tightest first: NOT, AND,
// OR; parentheses group. Keywords are upper-case; keys, values and capabilities use the
// characters backend/api allows for tags, so nothing is ever quoted. Every error says at which
// byte offset of the query it was found.
//
// Keys, values and capability names are checked with backend/api's rules for tags, so a query
// can only name what a station can carry. The store evaluates a parsed query over satellites,
// the server parses what users send.
package tagquery

import (
	"fmt"
	"strings"
)

// Limits of a query.
const (
	// MaxLen is the longest query, in bytes.
	MaxLen = 1024
	// MaxDepth is the deepest nesting of parentheses and NOTs.
	MaxDepth = 32
	// MaxTerms is the most terms one query holds.
	MaxTerms = 64
)

// Station is what a query is evaluated against.
type Station interface {
	// Tag returns the value of tag key and whether it is set.
	Tag(key string) (string, bool)
	// HasCapability reports whether the station reports capability name.
	HasCapability(name string) bool
}

// Labels is a Station made of a tag map and a capability list.
type Labels struct {
	Tags         map[string]string
	Capabilities []string
}

// Tag implements Station.
func (l Labels) Tag(key string) (string, bool) {
	v, ok := l.Tags[key]
	return v, ok
}

// HasCapability implements Station.
func (l Labels) HasCapability(name string) bool {
	for _, c := range l.Capabilities {
		if c == name {
			return true
		}
	}
	return false
}

// Error is a query that does not parse: Pos is the byte offset (0-based) where the problem was
// found.
type Error struct {
	Pos     int
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("at position %d: %s", e.Pos, e.Message) }

// Query is a parsed query. Its zero value matches nothing; use Parse.
type Query struct {
	text string
	root node
}

// String is the query as it was parsed (surrounding spaces trimmed).
func (q *Query) String() string { return q.text }

// Match reports whether s satisfies the query.
func (q *Query) Match(s Station) bool { return q.root != nil && q.root.match(s) }

// Normal is the query rewritten with one space between tokens and parentheses around every
// AND and OR: two queries with the same Normal select the same stations.
func (q *Query) Normal() string {
	if q.root == nil {
		return ""
	}
	return q.root.String()
}

// Parse parses a query.
func Parse(text string) (*Query, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return nil, &Error{0, "the query is empty"}
	}
	if len(text) > MaxLen {
		return nil, &Error{MaxLen, fmt.Sprintf("the query is longer than %d bytes", MaxLen)}
	}
	toks, err := lex(text)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	root, err := p.or(0)
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tokEOF {
		msg := fmt.Sprintf("expected AND, OR or the end of the query, found %s", t)
		if k := strings.ToUpper(t.text); k == "AND" || k == "OR" {
			msg += " (the keywords AND, OR and NOT are upper-case)"
		}
		return nil, &Error{t.pos, msg}
	}
	return &Query{text: text, root: root}, nil
}

// node is a parsed expression.
type node interface {
	match(s Station) bool
	String() string
}

type (
	andNode struct{ l, r node }
	orNode  struct{ l, r node }
	notNode struct{ x node }
	// tagNode is key=value (neg false) or key!=value (neg true).
	tagNode struct {
		key, value string
		neg        bool
	}
	hasNode        struct{ key string }
	capabilityNode struct{ name string }
)

func (n andNode) match(s Station) bool { return n.l.match(s) && n.r.match(s) }
func (n orNode) match(s Station) bool  { return n.l.match(s) || n.r.match(s) }
func (n notNode) match(s Station) bool { return !n.x.match(s) }
func (n tagNode) match(s Station) bool {
	v, ok := s.Tag(n.key)
	return (ok && v == n.value) != n.neg
}

func (n hasNode) match(s Station) bool {
	_, ok := s.Tag(n.key)
	return ok
}
func (n capabilityNode) match(s Station) bool { return s.HasCapability(n.name) }

func (n andNode) String() string { return "(" + n.l.String() + " AND " + n.r.String() + ")" }
func (n orNode) String() string  { return "(" + n.l.String() + " OR " + n.r.String() + ")" }
func (n notNode) String() string { return "NOT " + n.x.String() }
func (n tagNode) String() string {
	if n.neg {
		return n.key + "!=" + n.value
	}
	return n.key + "=" + n.value
}
func (n hasNode) String() string        { return "has(" + n.key + ")" }
func (n capabilityNode) String() string { return "capability:" + n.name }
