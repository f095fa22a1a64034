package tagquery

import (
	"fmt"
	"strconv"

	"github.com/talos-gs/talos/backend/api"
)

type tokKind int

const (
	tokEOF tokKind = iota
	tokWord
	tokEq
	tokNe
	tokColon
	tokLParen
	tokRParen
)

type token struct {
	kind tokKind
	text string
	pos  int
}

func (t token) String() string {
	if t.kind == tokEOF {
		return "the end of the query"
	}
	return strconv.Quote(t.text)
}

// wordByte is a byte a key, value, capability or keyword may hold.
func wordByte(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' ||
		b == '.' || b == '_' || b == '-' || b == '/' || b == '+'
}

// lex splits text into tokens; anything that is none is an error at its offset.
func lex(text string) ([]token, error) {
	var out []token
	for i := 0; i < len(text); {
		b := text[i]
		switch {
		case b == ' ' || b == '\t' || b == '\n' || b == '\r':
			i++
		case wordByte(b):
			j := i
			for j < len(text) && wordByte(text[j]) {
				j++
			}
			out = append(out, token{tokWord, text[i:j], i})
			i = j
		case b == '=':
			out = append(out, token{tokEq, "=", i})
			i++
		case b == '!' && i+1 < len(text) && text[i+1] == '=':
			out = append(out, token{tokNe, "!=", i})
			i += 2
		case b == ':':
			out = append(out, token{tokColon, ":", i})
			i++
		case b == '(':
			out = append(out, token{tokLParen, "(", i})
			i++
		case b == ')':
			out = append(out, token{tokRParen, ")", i})
			i++
		default:
			return nil, &Error{i, fmt.Sprintf("unexpected character %q (a query holds key=value, key!=value, has(key), capability:name, AND, OR, NOT and parentheses)", rune(b))}
		}
	}
	return append(out, token{kind: tokEOF, pos: len(text)}), nil
}

type parser struct {
	toks  []token
	at    int
	terms int
}

func (p *parser) peek() token { return p.toks[p.at] }

func (p *parser) next() token {
	t := p.toks[p.at]
	if t.kind != tokEOF {
		p.at++
	}
	return t
}

func (p *parser) keyword(word string) bool {
	t := p.peek()
	if t.kind == tokWord && t.text == word {
		p.at++
		return true
	}
	return false
}

func (p *parser) expect(kind tokKind, what string) (token, error) {
	t := p.next()
	if t.kind != kind {
		return t, &Error{t.pos, fmt.Sprintf("expected %s, found %s", what, t)}
	}
	return t, nil
}

// or: and {OR and}
func (p *parser) or(depth int) (node, error) {
	l, err := p.and(depth)
	if err != nil {
		return nil, err
	}
	for p.keyword("OR") {
		r, err := p.and(depth)
		if err != nil {
			return nil, err
		}
		l = orNode{l, r}
	}
	return l, nil
}

// and: unary {AND unary}
func (p *parser) and(depth int) (node, error) {
	l, err := p.unary(depth)
	if err != nil {
		return nil, err
	}
	for p.keyword("AND") {
		r, err := p.unary(depth)
		if err != nil {
			return nil, err
		}
		l = andNode{l, r}
	}
	return l, nil
}

// unary: NOT unary | "(" or ")" | term
func (p *parser) unary(depth int) (node, error) {
	t := p.peek()
	if depth >= MaxDepth {
		return nil, &Error{t.pos, fmt.Sprintf("the query nests deeper than %d levels", MaxDepth)}
	}
	switch {
	case p.keyword("NOT"):
		x, err := p.unary(depth + 1)
		if err != nil {
			return nil, err
		}
		return notNode{x}, nil
	case t.kind == tokLParen:
		p.next()
		x, err := p.or(depth + 1)
		if err != nil {
			return nil, err
		}
		if _, err := p.expect(tokRParen, `")"`); err != nil {
			return nil, err
		}
		return x, nil
	}
	return p.term()
}

// term: has "(" key ")" | capability ":" name | key ("=" | "!=") value
func (p *parser) term() (node, error) {
	t := p.next()
	if t.kind != tokWord || t.text == "AND" || t.text == "OR" {
		return nil, &Error{t.pos, fmt.Sprintf("expected key=value, key!=value, has(key), capability:name, NOT or \"(\", found %s", t)}
	}
	if p.terms++; p.terms > MaxTerms {
		return nil, &Error{t.pos, fmt.Sprintf("the query has more than %d terms", MaxTerms)}
	}
	switch {
	case t.text == "has" && p.peek().kind == tokLParen:
		return p.has()
	case t.text == "capability" && p.peek().kind == tokColon:
		p.next()
		name, err := p.expect(tokWord, "a capability name")
		if err != nil {
			return nil, err
		}
		if !validCapability(name.text) {
			return nil, &Error{name.pos, fmt.Sprintf("%s is not a capability name: 1 to %d of a-z, 0-9, '.', '_', '-', starting with a letter or digit", name, api.MaxTagKeyLen)}
		}
		return capabilityNode{name.text}, nil
	}
	if err := checkKey(t); err != nil {
		return nil, err
	}
	op := p.next()
	if op.kind != tokEq && op.kind != tokNe {
		return nil, &Error{op.pos, fmt.Sprintf("expected \"=\" or \"!=\" after the key %s, found %s", t, op)}
	}
	v, err := p.expect(tokWord, "a value")
	if err != nil {
		return nil, err
	}
	if !validValue(v.text) {
		return nil, &Error{v.pos, fmt.Sprintf("%s is not a tag value: 1 to %d letters, digits, '.', '_', '-', '/' or '+', starting with a letter or digit", v, api.MaxTagValueLen)}
	}
	return tagNode{key: t.text, value: v.text, neg: op.kind == tokNe}, nil
}

func (p *parser) has() (node, error) {
	p.next() // "("
	k, err := p.expect(tokWord, "a tag key")
	if err != nil {
		return nil, err
	}
	if err := checkKey(k); err != nil {
		return nil, err
	}
	if _, err := p.expect(tokRParen, `")"`); err != nil {
		return nil, err
	}
	return hasNode{k.text}, nil
}

func checkKey(t token) error {
	if validKey(t.text) {
		return nil
	}
	return &Error{t.pos, fmt.Sprintf("%s is not a tag key: 1 to %d of a-z, 0-9, '.', '_', '-', starting with a lower-case letter",
		t, api.MaxTagKeyLen)}
}

func validKey(s string) bool        { return api.ValidTagKey(s) }
func validValue(s string) bool      { return api.ValidTagValue(s) }
func validCapability(s string) bool { return api.ValidCapability(s) }
