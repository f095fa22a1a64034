package server_test

import (
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/talos-gs/talos/backend/server/servertest"
	"github.com/talos-gs/talos/backend/store"
	"github.com/talos-gs/talos/backend/store/storetest"
)

var ginParam = regexp.MustCompile(`:([A-Za-z]+)`)

// TestOpenAPICoversEveryRoute parses docs/openapi.yaml and checks that every route the router
// registers is documented, that nothing documented is missing from the router, that every
// operation has responses, and that every $ref resolves.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../docs/openapi.yaml")
	require.NoError(t, err)
	var doc struct {
		OpenAPI    string                          `yaml:"openapi"`
		Paths      map[string]map[string]yaml.Node `yaml:"paths"`
		Components map[string]map[string]any       `yaml:"components"`
	}
	require.NoError(t, yaml.Unmarshal(raw, &doc), "docs/openapi.yaml is not valid YAML")
	assert.True(t, strings.HasPrefix(doc.OpenAPI, "3."), "an OpenAPI 3 document")

	documented := map[string]bool{}
	for path, item := range doc.Paths {
		for method, op := range item {
			if method == "parameters" {
				continue
			}
			documented[strings.ToUpper(method)+" "+path] = true
			var body struct {
				Responses map[string]any `yaml:"responses"`
			}
			require.NoError(t, op.Decode(&body), "%s %s", method, path)
			assert.NotEmpty(t, body.Responses, "%s %s has no responses", method, path)
		}
	}
	h := servertest.New(t, storetest.Open(t, store.SQLite))
	registered := map[string]bool{}
	for _, r := range h.Server.Routes() {
		key := r.Method + " " + ginParam.ReplaceAllString(r.Path, "{$1}")
		registered[key] = true
		assert.True(t, documented[key], "route %s is not in docs/openapi.yaml", key)
	}
	var stale []string
	for key := range documented {
		if !registered[key] {
			stale = append(stale, key)
		}
	}
	sort.Strings(stale)
	assert.Empty(t, stale, "documented but not registered")

	for _, ref := range regexp.MustCompile(`\$ref: "#/components/([a-zA-Z]+)/([A-Za-z]+)"`).FindAllStringSubmatch(string(raw), -1) {
		_, ok := doc.Components[ref[1]][ref[2]]
		assert.True(t, ok, "unresolved $ref %s/%s", ref[1], ref[2])
	}
}
