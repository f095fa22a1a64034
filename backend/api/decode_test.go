package api

import (
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestDecodeStrict(t *testing.T) {
	t.Parallel()
	type body struct {
		Name string `json:"name"`
	}
	for _, tc := range []struct {
		name, raw string
		ok        bool
		trailing  bool
	}{
		{"one object", `{"name":"x"}`, true, false},
		{"surrounding space", " \n{\"name\":\"x\"}\t\n", true, false},
		{"second object", `{"name":"x"} {}`, false, true},
		{"second value", `{"name":"x"} 5`, false, true},
		// dec.More() would miss these two: a stray closing bracket is not "more".
		{"stray bracket", `{"name":"x"} ]`, false, true},
		{"stray brace", `{"name":"x"}}`, false, true},
		{"truncated second", `{"name":"x"} {`, false, true},
		{"unknown field", `{"title":"x"}`, false, false},
		{"wrong type", `{"name":1}`, false, false},
		{"empty", ``, false, false},
	} {
		var v body
		err := DecodeStrict(strings.NewReader(tc.raw), &v)
		if tc.ok != (err == nil) {
			t.Errorf("%s: err = %v", tc.name, err)
		}
		if got := errors.Is(err, ErrTrailingData); got != tc.trailing {
			t.Errorf("%s: trailing = %v (err %v)", tc.name, got, err)
		}
	}
	var v body
	var typeErr *json.UnmarshalTypeError
	if err := DecodeStrict(strings.NewReader(`{"name":[1]}`), &v); !errors.As(err, &typeErr) || typeErr.Field != "name" {
		t.Errorf("a type error keeps its field for the caller to name: %v", err)
	}
	failing := io.MultiReader(strings.NewReader(`{"name":"x"}`), errReader{})
	if err := DecodeStrict(failing, &v); err == nil || errors.Is(err, ErrTrailingData) || !errors.Is(err, errBroken) {
		t.Errorf("a read error after the value is returned as such: %v", err)
	}
}

var errBroken = errors.New("connection broken")

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errBroken }
