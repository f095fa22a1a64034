package cli

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/backend/store"
	"github.com/talos-gs/talos/backend/store/storetest"
)

// TestCatalogCommands imports the real 571-object file into the global catalog and a broken
// file into a team's, and adds and lists a source, on each dialect.
func TestCatalogCommands(t *testing.T) {
	t.Parallel()
	for _, d := range storetest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			testCatalogCommands(t, d)
		})
	}
}

func testCatalogCommands(t *testing.T, d store.Dialect) {
	dir := t.TempDir()
	dbURL := storetest.NewURL(t, d)
	env := map[string]string{"TALOS_DATA_DIR": dir, "TALOS_DATABASE_URL": dbURL}

	active := "../catalog/testdata/celestrak-active-2026-177.tle"
	r := runCLI(t, env, "", "catalog", "import", active)
	require.Equal(t, 0, r.code, r.err)
	assert.Equal(t, "tle: 571 records, 571 accepted, 0 refused (not newer), 0 rejected, 571 new spacecraft\n", r.out)

	r = runCLI(t, env, "", "team", "create", "--name", "Cubesat")
	require.Equal(t, 0, r.code, r.err)
	broken := filepath.Join(dir, "ours.tle")
	body := "OUR SAT\n" +
		"1 A0001U 26001A   26177.67101756  .00008101  00000+0  15268-3 0  9990\n" +
		"2 A0001  51.6322 253.1475 0004299 235.1263 124.9322 15.49442433573225\n" // bad checksum
	require.NoError(t, os.WriteFile(broken, []byte(body), 0o600))
	r = runCLI(t, env, "", "catalog", "import", broken, "--team", "cubesat", "--source", "ours")
	require.Equal(t, 0, r.code, r.err)
	assert.Contains(t, r.err, "rejected: record 1 (line 1): tle line 2: checksum")
	assert.Contains(t, r.out, "1 rejected")

	r = runCLI(t, env, "", "catalog", "import", broken, "--team", "nope")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.err, "team \"nope\"")
	r = runCLI(t, env, "", "catalog", "import", broken, "--format", "xml")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.err, "--format")

	r = runCLI(t, env, "", "catalog", "source", "add", "--name", "celestrak-active",
		"--url", "https://celestrak.org/NORAD/elements/gp.php?GROUP=active&FORMAT=json", "--format", "omm-json")
	require.Equal(t, 0, r.code, r.err)
	r = runCLI(t, env, "", "catalog", "source", "add", "--name", "x", "--url", "file:///etc/passwd")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.err, "--url")
	r = runCLI(t, env, "", "catalog", "source", "add", "--name", "x", "--url", "https://x.org", "--interval", "1m")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.err, "--interval")
	r = runCLI(t, env, "", "catalog", "source", "list")
	require.Equal(t, 0, r.code, r.err)
	assert.Contains(t, r.out, "celestrak-active\tomm-json\t")
	assert.Contains(t, r.out, "every 2h0m0s")

	st := storetest.OpenURL(t, dbURL)
	crafts, err := st.VisibleSpacecraft(t.Context(), "", store.SpacecraftQuery{NORADIDs: []int{25544}})
	require.NoError(t, err)
	require.Len(t, crafts, 1)
	assert.Equal(t, "ISS (ZARYA)", crafts[0].Name)
}
