package server

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
)

// Text that one database stores and the other refuses must be refused by the API itself, the
// same way on both dialects: PostgreSQL rejects a NUL character and invalid UTF-8 in any text
// value (SQLite keeps both), which used to turn such input into a 500 on PostgreSQL only. The
// checks live here, in one place that bind() and the query middleware call, so a new handler is
// covered without doing anything (docs/decisions/0066).

// textNUL and textUTF8 are the two reasons a piece of text is refused.
const (
	textNUL  = "must not contain NUL characters"
	textUTF8 = "must be UTF-8 text"
)

// ownTextCheck is implemented by request bodies that check their text themselves (the event
// batch rejects one bad event, not the batch); bind() leaves their text to them.
type ownTextCheck interface {
	checksOwnText()
}

// storableText returns "" when s can be stored as text on both dialects, or why not.
func storableText(s string) string {
	switch {
	case strings.IndexByte(s, 0) >= 0:
		return textNUL
	case !utf8.ValidString(s):
		return textUTF8
	}
	return ""
}

// textProblem walks a decoded request body and returns the JSON path of the first string (or
// raw JSON value, or map key) that is not storable text, and why; "" and "" when all are.
func textProblem(v any) (field, reason string) {
	return walkText(reflect.ValueOf(v), "")
}

var rawMessageType = reflect.TypeOf(json.RawMessage(nil))

func walkText(v reflect.Value, path string) (field, reason string) {
	if !v.IsValid() {
		return "", ""
	}
	if v.Type() == rawMessageType {
		// encoding/json copies a raw value's bytes as they came, invalid UTF-8 included (a NUL
		// byte cannot be in valid JSON, and the escape \u0000 is plain ASCII text).
		if !utf8.Valid(v.Bytes()) {
			return path, textUTF8
		}
		return "", ""
	}
	switch v.Kind() {
	case reflect.String:
		if r := storableText(v.String()); r != "" {
			return path, r
		}
	case reflect.Pointer, reflect.Interface:
		return walkText(v.Elem(), path)
	case reflect.Struct:
		return walkStruct(v, path)
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			if f, r := walkText(v.Index(i), path+"["+strconv.Itoa(i)+"]"); r != "" {
				return f, r
			}
		}
	case reflect.Map:
		return walkMap(v, path)
	}
	return "", ""
}

func walkStruct(v reflect.Value, path string) (field, reason string) {
	t := v.Type()
	for i := range t.NumField() {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		sub := path
		if !sf.Anonymous || name != "" {
			if name == "" {
				name = sf.Name
			}
			sub = joinPath(path, name)
		}
		if f, r := walkText(v.Field(i), sub); r != "" {
			return f, r
		}
	}
	return "", ""
}

func walkMap(v reflect.Value, path string) (field, reason string) {
	iter := v.MapRange()
	for iter.Next() {
		key := iter.Key()
		if key.Kind() == reflect.String {
			if r := storableText(key.String()); r != "" {
				return path, "keys " + r
			}
			if f, r := walkText(iter.Value(), joinPath(path, key.String())); r != "" {
				return f, r
			}
		}
	}
	return "", ""
}

func joinPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// checkBodyText is bind()'s text check: a 400 naming the field.
func checkBodyText(v any) error {
	if _, own := v.(ownTextCheck); own {
		return nil
	}
	if field, reason := textProblem(v); reason != "" {
		return errInvalid(field, "%s %s", field, reason)
	}
	return nil
}

// checkRequestText refuses a request whose query parameters or path parameters are not
// storable text (e.g. ?type=x%00), with a 400 naming the parameter, before any handler can pass
// them to the database.
func (s *Server) checkRequestText(c *gin.Context) {
	for key, values := range c.Request.URL.Query() {
		if r := storableText(key); r != "" {
			s.fail(c, errInvalid("", "query parameter names %s", r))
			return
		}
		for _, v := range values {
			if r := storableText(v); r != "" {
				s.fail(c, errInvalid(key, "%s %s", key, r))
				return
			}
		}
	}
	for _, p := range c.Params {
		if r := storableText(p.Value); r != "" {
			s.fail(c, errInvalid(p.Key, "%s %s", p.Key, r))
			return
		}
	}
	c.Next()
}
