// Package docs_test keeps docs/ true: the decision index matches the records, and the command
// lines the documentation shows are real commands with real flags.
package docs_test

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

var updateIndex = flag.Bool("update-index", false, "rewrite docs/decisions/README.md from the records")

// decision is one record of docs/decisions/.
type decision struct {
	number, title, status, file string
}

var (
	recordName = regexp.MustCompile(`^(\d{4})-[a-z0-9-]+\.md$`)
	titleLine  = regexp.MustCompile(`^# (\d{4}) — (\S.*)$`)
	// A record is accepted, or superseded (wholly or in part) by a later record.
	statusLine = regexp.MustCompile(`^Status: (accepted|(?:partly )?superseded by (\d{4}))$`)
)

// TestDecisionIndex fails when a record lacks its title or status line, when a status names a
// record that does not exist, or when docs/decisions/README.md is not the index of the records.
// After adding or changing a record: go test ./docs/ -run TestDecisionIndex -update-index
func TestDecisionIndex(t *testing.T) {
	records, err := readDecisions("decisions")
	if err != nil {
		t.Fatal(err)
	}
	byNumber := map[string]decision{}
	for _, d := range records {
		if other, dup := byNumber[d.number]; dup {
			t.Errorf("decisions %s and %s share the number %s", other.file, d.file, d.number)
		}
		byNumber[d.number] = d
	}
	for _, d := range records {
		if m := statusLine.FindStringSubmatch("Status: " + d.status); m[2] != "" {
			if _, ok := byNumber[m[2]]; !ok {
				t.Errorf("%s: its status names decision %s, which does not exist", d.file, m[2])
			}
		}
	}
	want := renderIndex(records)
	path := filepath.Join("decisions", "README.md")
	if *updateIndex {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil { //nolint:gosec // a document in the repository
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (create it: go test ./docs/ -run TestDecisionIndex -update-index)", err)
	}
	if string(got) != want {
		t.Errorf("%s is not the index of the records; run: go test ./docs/ -run TestDecisionIndex -update-index\n"+
			"want:\n%s", path, want)
	}
}

// readDecisions reads every NNNN-title.md in dir, in number order, and checks its first lines:
// "# NNNN — Title", a blank line, "Status: ...".
func readDecisions(dir string) ([]decision, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []decision
	var problems []string
	for _, e := range entries {
		if e.IsDir() || e.Name() == "README.md" {
			continue
		}
		m := recordName.FindStringSubmatch(e.Name())
		if m == nil {
			problems = append(problems, fmt.Sprintf("%s: a record is named NNNN-lowercase-title.md", e.Name()))
			continue
		}
		d, err := readDecision(filepath.Join(dir, e.Name()), m[1])
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		out = append(out, d)
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("decision records:\n  %s", strings.Join(problems, "\n  "))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].number < out[j].number })
	return out, nil
}

func readDecision(path, number string) (decision, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return decision{}, err
	}
	lines := strings.SplitN(string(raw), "\n", 4)
	name := filepath.Base(path)
	if len(lines) < 3 {
		return decision{}, fmt.Errorf("%s: too short for a title and a status line", name)
	}
	title := titleLine.FindStringSubmatch(lines[0])
	if title == nil || title[1] != number {
		return decision{}, fmt.Errorf("%s: the first line must be %q", name, "# "+number+" — Title")
	}
	status := statusLine.FindStringSubmatch(lines[2])
	if lines[1] != "" || status == nil {
		return decision{}, fmt.Errorf("%s: the title must be followed by a blank line and "+
			"`Status: accepted`, `Status: superseded by NNNN` or `Status: partly superseded by NNNN`", name)
	}
	return decision{number: number, title: title[2], status: status[1], file: name}, nil
}

// renderIndex is docs/decisions/README.md: one row per record.
func renderIndex(records []decision) string {
	var b strings.Builder
	b.WriteString("# Decision records\n\n")
	b.WriteString("Each record says what was decided, why, and what follows from it. A decision that is\n")
	b.WriteString("reversed keeps its record: a later record supersedes it, and the earlier one's status line\n")
	b.WriteString("says so. This index is generated from the records' first lines and checked by\n")
	b.WriteString("`TestDecisionIndex` (docs/decisions_test.go); after adding a record run\n")
	b.WriteString("`go test ./docs/ -run TestDecisionIndex -update-index`.\n\n")
	b.WriteString("| number | title | status |\n|---|---|---|\n")
	for _, d := range records {
		title := strings.ReplaceAll(d.title, "|", `\|`)
		fmt.Fprintf(&b, "| [%s](%s) | %s | %s |\n", d.number, d.file, title, d.status)
	}
	return b.String()
}
