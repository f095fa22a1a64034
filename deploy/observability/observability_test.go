// Package observability_test checks the alert rules and dashboards of deploy/observability: the
// rules with promtool (check and unit tests), the dashboards as strict JSON, and every metric
// either names against the metrics the code registers.
package observability_test

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// external are the metrics the rules and dashboards use that Talos does not define: Prometheus'
// own, the Go client's standard collectors, and the blackbox exporter's.
var external = []string{"up", "probe_ssl_earliest_cert_expiry", "process_resident_memory_bytes",
	"process_cpu_seconds_total", "go_sql_in_use_connections", "go_sql_wait_duration_seconds_total"}

// TestAlertRules runs promtool check rules and promtool test rules. promtool comes with Debian's
// prometheus package (.ci/run installs it); without it the test is skipped, unless
// TALOS_REQUIRE_INTEGRATION=1 says it must run.
func TestAlertRules(t *testing.T) {
	t.Parallel()
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("TALOS_REQUIRE_INTEGRATION") == "1" {
			t.Fatal("promtool is not installed (apt-get install prometheus) and TALOS_REQUIRE_INTEGRATION=1")
		}
		t.Skip("promtool is not installed (apt-get install prometheus)")
	}
	for _, args := range [][]string{{"check", "rules", "alerts.yml"}, {"test", "rules", "alerts_test.yml"}} {
		out, err := exec.CommandContext(t.Context(), promtool, args...).CombinedOutput()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// dashboard is the part of a Grafana dashboard the checks read; decoding is strict about these.
type dashboard struct {
	UID        string `json:"uid"`
	Title      string `json:"title"`
	Schema     int    `json:"schemaVersion"`
	Templating struct {
		List []struct {
			Name string `json:"name"`
		} `json:"list"`
	} `json:"templating"`
	Panels []struct {
		ID      int    `json:"id"`
		Type    string `json:"type"`
		Title   string `json:"title"`
		GridPos struct {
			H, W, X, Y int
		} `json:"gridPos"`
		Targets []struct {
			RefID string `json:"refId"`
			Expr  string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
}

// TestDashboards: each dashboard is valid JSON with a uid, a title, panels with unique ids that
// fit the 24-column grid, and a PromQL expression in every target.
func TestDashboards(t *testing.T) {
	t.Parallel()
	paths, err := filepath.Glob("grafana/*.json")
	if err != nil || len(paths) < 2 {
		t.Fatalf("want the backend and station dashboards in grafana/, got %v (%v)", paths, err)
	}
	uids := map[string]string{}
	for _, path := range paths {
		var d dashboard
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, &d); err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		if d.UID == "" || d.Title == "" || d.Schema < 30 || len(d.Panels) == 0 {
			t.Errorf("%s: needs a uid, a title, schemaVersion ≥ 30 and panels", path)
		}
		if other, ok := uids[d.UID]; ok {
			t.Errorf("%s and %s share the uid %q", path, other, d.UID)
		}
		uids[d.UID] = path
		ids := map[int]bool{}
		for _, p := range d.Panels {
			if ids[p.ID] {
				t.Errorf("%s: panel id %d is used twice", path, p.ID)
			}
			ids[p.ID] = true
			if p.GridPos.W <= 0 || p.GridPos.H <= 0 || p.GridPos.X+p.GridPos.W > 24 {
				t.Errorf("%s: panel %q does not fit the 24-column grid: %+v", path, p.Title, p.GridPos)
			}
			if len(p.Targets) == 0 {
				t.Errorf("%s: panel %q has no query", path, p.Title)
			}
			for _, q := range p.Targets {
				if q.RefID == "" || strings.TrimSpace(q.Expr) == "" {
					t.Errorf("%s: panel %q has a target without refId or expr", path, p.Title)
				}
			}
		}
	}
}

// TestMetricsExist: every metric the rules and dashboards query is one the code registers (or a
// standard one listed in external), so renaming a metric cannot silently empty a panel or
// disarm an alert.
func TestMetricsExist(t *testing.T) {
	t.Parallel()
	defined := definedMetrics(t)
	files := []string{"alerts.yml"}
	dashboards, err := filepath.Glob("grafana/*.json")
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, dashboards...)
	seen := 0
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range usedMetrics(raw) {
			seen++
			if !defined[name] && !slices.Contains(external, name) {
				t.Errorf("%s uses %s, which no code defines", f, name)
			}
		}
	}
	if seen < 20 {
		t.Fatalf("found only %d metric references: the pattern no longer matches the files", seen)
	}
}

var (
	// metricRef finds talos_… names, and the external ones, in PromQL.
	metricRef = regexp.MustCompile(`\b(talos_[a-z0-9_]+|go_sql_[a-z_]+|process_[a-z_]+|probe_[a-z_]+|up)\b`)
	// metricDef finds metric names where the code declares them.
	metricDef = regexp.MustCompile(`"(talos_[a-z0-9_]+)"`)
)

// usedMetrics lists the metric names in a rules or dashboard file; a histogram's _bucket, _sum
// and _count series count as the histogram.
func usedMetrics(raw []byte) []string {
	var out []string
	for _, m := range metricRef.FindAllSubmatch(raw, -1) {
		name := string(m[1])
		if bytes.Contains(m[0], []byte("up")) && name == "up" {
			out = append(out, name)
			continue
		}
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			name = strings.TrimSuffix(name, suffix)
		}
		out = append(out, name)
	}
	return out
}

// definedMetrics collects the talos_… names declared in the project's non-test Go files.
func definedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	err := filepath.WalkDir("../..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || strings.HasPrefix(d.Name(), ".")) && path != "../.." {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range metricDef.FindAllSubmatch(raw, -1) {
			out[string(m[1])] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
