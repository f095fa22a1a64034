package server_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/backend/server/servertest"
	"github.com/talos-gs/talos/backend/store"
	"github.com/talos-gs/talos/backend/store/storetest"
)

const protocolDoc = "../../docs/protocol.md"

// docExamples returns the ```json example:NAME blocks of a Markdown file by name.
func docExamples(t *testing.T, path string) map[string]string {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	out := map[string]string{}
	var name string
	var body strings.Builder
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case name == "" && strings.HasPrefix(line, "```json example:"):
			name = strings.TrimSpace(strings.TrimPrefix(line, "```json example:"))
			body.Reset()
		case name != "" && strings.TrimSpace(line) == "```":
			require.NotContains(t, out, name, "example %s appears twice", name)
			out[name] = body.String()
			name = ""
		case name != "":
			body.WriteString(line + "\n")
		}
	}
	require.Empty(t, name, "unterminated example")
	return out
}

// strictDecode decodes an example request into its api type, refusing unknown fields.
func strictDecode(t *testing.T, name, raw string, v any) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(v), "example %s does not decode strictly into %T", name, v)
}

// sameKeys checks that two JSON documents have the same object keys at every level (arrays are
// compared by their first elements when both have one).
func sameKeys(t *testing.T, name string, example, real []byte) {
	t.Helper()
	var a, b any
	require.NoError(t, json.Unmarshal(example, &a), "example %s is not JSON", name)
	require.NoError(t, json.Unmarshal(real, &b), "response for %s is not JSON", name)
	compareKeys(t, name, "$", a, b)
}

func compareKeys(t *testing.T, name, path string, a, b any) {
	switch av := a.(type) {
	case map[string]any:
		bv, ok := b.(map[string]any)
		if !assert.True(t, ok, "%s %s: example has an object, the response %T", name, path, b) {
			return
		}
		assert.Equal(t, keys(av), keys(bv), "%s %s: keys of the example and of the real response", name, path)
		for k, v := range av {
			if w, ok := bv[k]; ok {
				compareKeys(t, name, path+"."+k, v, w)
			}
		}
	case []any:
		bv, ok := b.([]any)
		if assert.True(t, ok, "%s %s: example has an array, the response %T", name, path, b) && len(av) > 0 && len(bv) > 0 {
			compareKeys(t, name, path+"[0]", av[0], bv[0])
		}
	}
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestProtocolDocExamples sends every request example of docs/protocol.md to the real handlers
// and compares every response example with the real response.
func TestProtocolDocExamples(t *testing.T) {
	t.Parallel()
	ex := docExamples(t, protocolDoc)
	used := map[string]bool{}
	get := func(name string) string {
		t.Helper()
		v, ok := ex[name]
		require.True(t, ok, "docs/protocol.md lacks example %s", name)
		used[name] = true
		return v
	}
	check := func(name string, r *servertest.Response, status int) {
		t.Helper()
		require.Equal(t, status, r.Status, "%s: %s", name, r.Body)
		sameKeys(t, name, []byte(get(name)), r.Body)
	}

	p := newProtocol(t, storetest.Open(t, store.SQLite))
	r := p.register(t, "", registerBody("x"))
	check("error.response", r, http.StatusUnauthorized)

	r = p.owner.Do(t, http.MethodPost, "/api/teams/"+p.team.ID+"/registration-tokens", get("regtoken.create.request"))
	check("regtoken.create.response", r, http.StatusCreated)
	var tok createdRegToken
	r.JSON(t, &tok)

	var reg api.RegisterRequest
	strictDecode(t, "register.request", get("register.request"), &reg)
	r = p.register(t, tok.Token, get("register.request"))
	check("register.response", r, http.StatusCreated)
	s := &station{c: p.Anonymous(t)}
	r.JSON(t, &s.RegisterResponse)
	s.c.Bearer = s.APIKey

	r = p.owner.Do(t, http.MethodPost, "/api/satellites/"+s.SatelliteID+"/commands", get("command.create.request"))
	check("command.create.response", r, http.StatusCreated)
	var cmd struct{ ID string }
	r.JSON(t, &cmd)

	r = s.c.Do(t, http.MethodGet, s.path("/commands"), nil)
	check("commands.response", r, http.StatusOK)

	var upd api.CommandStatusUpdate
	strictDecode(t, "status.request", get("status.request"), &upd)
	r = s.c.Do(t, http.MethodPost, s.path("/commands/"+cmd.ID+"/status"), get("status.request"))
	check("status.response", r, http.StatusOK)

	var hb api.Heartbeat
	strictDecode(t, "heartbeat.request", get("heartbeat.request"), &hb)
	r = s.c.Do(t, http.MethodPost, s.path("/heartbeat"), get("heartbeat.request"))
	check("heartbeat.response", r, http.StatusOK)

	var batch api.EventBatch
	strictDecode(t, "events.request", get("events.request"), &batch)
	r = s.c.Do(t, http.MethodPost, s.path("/events"), get("events.request"))
	check("events.response", r, http.StatusOK)
	assert.JSONEq(t, get("events.response"), string(r.Body), "the example batch's answer is exactly as documented")

	r = p.owner.Do(t, http.MethodGet, "/api/teams/"+p.team.ID+"/satellites", nil)
	check("satellites.list.response", r, http.StatusOK)
	r = p.owner.Do(t, http.MethodGet, p.teamPath(s.SatelliteID, "/heartbeats"), nil)
	check("heartbeats.list.response", r, http.StatusOK)
	r = p.owner.Do(t, http.MethodGet, p.teamPath(s.SatelliteID, "/events?type=rotator.fault"), nil)
	check("events.list.response", r, http.StatusOK)

	for name := range ex {
		assert.True(t, used[name], "example %s in docs/protocol.md is not checked by this test", name)
	}
}
