package docs_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	backendcli "github.com/talos-gs/talos/backend/cli"
	satellitecli "github.com/talos-gs/talos/satellite/cli"
)

// documentedCommand is one `talos-backend ...` or `talos-satellite ...` command line in the docs.
type documentedCommand struct {
	where  string // file:line
	binary string
	words  []string // subcommands, then arguments
	flags  []string // long flag names, without "--"
}

// helpPage is what a command's --help says about it.
type helpPage struct {
	subcommands map[string]bool
	flags       map[string]bool
}

// TestDocumentedCommandLines checks every command line that README.md and docs/*.md show, in
// code blocks and inline code: the subcommands exist and every --flag is one the command takes
// (its own or a global one). It asks the real cobra command trees through their --help.
func TestDocumentedCommandLines(t *testing.T) {
	files, err := filepath.Glob("*.md")
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, filepath.Join("..", "README.md"))
	var cmds []documentedCommand
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, extractCommands(f, string(raw))...)
	}
	if len(cmds) < 20 {
		t.Fatalf("found only %d documented command lines; the extraction is broken", len(cmds))
	}
	t.Logf("checking %d documented command lines", len(cmds))
	pages := map[string]helpPage{}
	ask := func(binary string, path []string) helpPage {
		key := binary + " " + strings.Join(path, " ")
		if p, ok := pages[key]; ok {
			return p
		}
		p := help(t, binary, path)
		pages[key] = p
		return p
	}
	for _, c := range cmds {
		for _, problem := range checkCommand(c, ask) {
			t.Error(problem)
		}
	}
}

// TestDocumentedCommandLinesCatchMistakes: the check above is only worth something if it
// finds a wrong subcommand and a wrong flag, in a code block and across an inline span's line
// break.
func TestDocumentedCommandLinesCatchMistakes(t *testing.T) {
	doc := "Run `talos-backend user password --email\nadmin@talos.local --password-stdin` to reset.\n\n" +
		"```sh\n" +
		"TOKEN=$(talos-backend token mint --team T)\n" +
		"talos-satellite register --backend URL \\\n    --latitude-deg 48 # not a flag\n" +
		"printf pw | talos-backend user create --email E --password-stdin --admin\n" +
		"```\n"
	cmds := extractCommands("doc.md", doc)
	if len(cmds) != 4 {
		t.Fatalf("extracted %d commands, want 4: %+v", len(cmds), cmds)
	}
	ask := func(binary string, path []string) helpPage { return help(t, binary, path) }
	want := []string{
		"",
		`doc.md:5: talos-backend token has no subcommand "mint"`,
		"doc.md:6: talos-satellite register takes no flag --latitude-deg",
		"",
	}
	for i, c := range cmds {
		got := strings.Join(checkCommand(c, ask), "\n")
		if want[i] == "" && got != "" || !strings.HasPrefix(got, want[i]) {
			t.Errorf("command %d %+v: problems %q, want %q", i, c, got, want[i])
		}
	}
}

// checkCommand returns what is wrong with one documented command line.
func checkCommand(c documentedCommand, help func(binary string, path []string) helpPage) []string {
	var path []string
	page := help(c.binary, nil)
	for _, w := range c.words {
		if len(page.subcommands) == 0 {
			break // the rest are arguments
		}
		if !page.subcommands[w] {
			return []string{fmt.Sprintf("%s: %s has no subcommand %q (it has %s)", c.where,
				strings.Join(append([]string{c.binary}, path...), " "), w, keys(page.subcommands))}
		}
		path = append(path, w)
		page = help(c.binary, path)
	}
	var problems []string
	for _, f := range c.flags {
		if !page.flags[f] {
			problems = append(problems, fmt.Sprintf("%s: %s takes no flag --%s", c.where,
				strings.Join(append([]string{c.binary}, path...), " "), f))
		}
	}
	return problems
}

// help runs `<binary> <path...> --help` in-process and reads its subcommands and flags.
func help(t *testing.T, binary string, path []string) helpPage {
	t.Helper()
	var out, errOut bytes.Buffer
	args := append(append([]string{}, path...), "--help")
	var code int
	switch binary {
	case "talos-backend":
		code = backendcli.Main(context.Background(), args, strings.NewReader(""), &out, &errOut,
			func(string) string { return "" })
	case "talos-satellite":
		code = satellitecli.Main(args, strings.NewReader(""), &out, &errOut)
	}
	if code != 0 {
		t.Fatalf("%s %s: exit %d: %s", binary, strings.Join(args, " "), code, errOut.String())
	}
	return parseHelp(out.String())
}

var (
	flagInHelp    = regexp.MustCompile(`^\s+(?:-\w, )?--([a-z0-9][a-z0-9-]*)`)
	commandInHelp = regexp.MustCompile(`^  ([a-z][a-z0-9-]*)\s`)
)

// parseHelp reads cobra's help text: "Available Commands:" and the "Flags:"/"Global Flags:"
// sections.
func parseHelp(s string) helpPage {
	p := helpPage{subcommands: map[string]bool{}, flags: map[string]bool{}}
	section := ""
	for _, line := range strings.Split(s, "\n") {
		if strings.HasSuffix(line, ":") && !strings.HasPrefix(line, " ") {
			section = line
			continue
		}
		switch section {
		case "Available Commands:", "Additional Commands:":
			if m := commandInHelp.FindStringSubmatch(line); m != nil {
				p.subcommands[m[1]] = true
			}
		case "Flags:", "Global Flags:":
			if m := flagInHelp.FindStringSubmatch(line); m != nil {
				p.flags[m[1]] = true
			}
		}
	}
	return p
}

var (
	fence      = regexp.MustCompile("^\\s*```")
	inlineCode = regexp.MustCompile("`([^`]+)`")
	// A command starts at a line start, after a space, "(", "/", "|", or "=" (ExecStart=...).
	commandStart = regexp.MustCompile(`(?:^|[\s(/|=])(talos-backend|talos-satellite)(?:\s+|$)`)
	// Where a command line ends: a comment, a pipe, a command list, a redirect, $( ... ).
	commandEnd = regexp.MustCompile(`\s#|\||;|&&|\)|\s\d?>`)
	// A shell comment in a code block: prose, not a command.
	shellComment = regexp.MustCompile(`(?:^|\s)#.*$`)
	// A word that can name a subcommand; anything else is an argument or a placeholder.
	subcommandWord = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)
)

// extractCommands finds the command lines of one markdown file: every line of a fenced code
// block (continuation lines joined) and every inline code span.
func extractCommands(file, text string) []documentedCommand {
	var out []documentedCommand
	lines := strings.Split(text, "\n")
	inFence := false
	var prose []string // the prose of the current paragraph, for inline code across lines
	proseStart := 0
	flushProse := func() {
		for _, m := range inlineCode.FindAllStringSubmatch(strings.Join(prose, " "), -1) {
			out = append(out, parseCommands(file, proseStart, m[1])...)
		}
		prose = prose[:0]
	}
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		if fence.MatchString(line) {
			flushProse()
			inFence = !inFence
			continue
		}
		if !inFence {
			if strings.TrimSpace(line) == "" {
				flushProse()
				continue
			}
			if len(prose) == 0 {
				proseStart = i + 1
			}
			prose = append(prose, line)
			continue
		}
		start := i + 1
		for strings.HasSuffix(line, `\`) && i+1 < len(lines) {
			i++
			line = strings.TrimSuffix(line, `\`) + " " + lines[i]
		}
		out = append(out, parseCommands(file, start, shellComment.ReplaceAllString(line, ""))...)
	}
	flushProse()
	return out
}

// parseCommands reads the command lines in one line of text.
func parseCommands(file string, line int, text string) []documentedCommand {
	var out []documentedCommand
	for _, m := range commandStart.FindAllStringSubmatchIndex(text, -1) {
		rest := text[m[1]:]
		if loc := commandEnd.FindStringIndex(rest); loc != nil {
			rest = rest[:loc[0]]
		}
		c := documentedCommand{where: file + ":" + strconv.Itoa(line), binary: text[m[2]:m[3]]}
		seenFlag := false
		for _, tok := range strings.Fields(rest) {
			tok = strings.Trim(tok, "[]")
			switch {
			case strings.HasPrefix(tok, "--"):
				seenFlag = true
				name, _, _ := strings.Cut(strings.TrimPrefix(tok, "--"), "=")
				c.flags = append(c.flags, name)
			case !seenFlag && subcommandWord.MatchString(tok):
				c.words = append(c.words, tok)
			default:
				seenFlag = true // an argument or a placeholder: no more subcommands
			}
		}
		out = append(out, c)
	}
	return out
}

func keys(m map[string]bool) string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return strings.Join(ks, ", ")
}
