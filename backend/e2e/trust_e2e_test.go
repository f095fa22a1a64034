package e2e

import (
	"net"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/backend/server/servertest"
	"github.com/talos-gs/talos/backend/store"
	"github.com/talos-gs/talos/satellite/proc"
	"github.com/talos-gs/talos/satellite/proc/proctest"
)

// e2ePrograms is the allow-list of the e2e stations: a decoder that prints and waits, and a
// probe that tries to connect to a TCP port of 127.0.0.1 (the station's status endpoint).
func e2ePrograms() map[string]proc.Program {
	return map[string]proc.Program{
		"decoder-sim": {Path: "/bin/sh", Args: []string{"-c", "echo decoding; exec sleep 600"}},
		// recorder-sim writes a recording and a frames file into its output directory and exits
		// (upload_e2e_test.go).
		"recorder-sim": {Path: "/bin/sh", Args: []string{"-c", `head -c 3000000 /dev/urandom > "$TALOS_OUTPUT_DIR/pass.cf32" && ` +
			`printf '{"time":"2026-06-27T00:01:00Z","hex":"c0ffee"}\n{"time":"2026-06-27T00:02:00Z","hex":"beef"}\n' > "$TALOS_OUTPUT_DIR/frames.jsonl"`}},
		"probe-loopback": {Path: "/bin/bash", ArgPatterns: []string{`[0-9]{1,5}`}, MaxArgs: 1,
			Args: []string{"-c", `if (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null; then echo loopback reached; else echo loopback unreachable; fi`, "probe"}},
	}
}

// decoderWorkDir is the base of the team directories: traversable by the team users and not
// below /tmp, which an isolated decoder gets as its team's own directory. A runner that is not
// root cannot isolate decoders; the e2e tests that only need a decoder to run then allow that.
func decoderWorkDir(t *testing.T) string {
	t.Helper()
	return proctest.DecoderWorkDir(t, "talos-e2e-decoders-")
}

// TestTrustModel is the table of docs/processes.md ("Who can make a station do what"), checked
// against the real backend and a real station running as root: what a viewer, a member, a
// team admin and a global admin can make the station run.
func TestTrustModel(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("TALOS_REQUIRE_INTEGRATION") == "1" {
			t.Fatal("TALOS_REQUIRE_INTEGRATION=1 but: the trust model needs a root runner (team users, namespaces)")
		}
		t.Skip("the trust model needs a root runner (team users, namespaces)")
	}
	t.Parallel()
	forEachDialect(t, func(t *testing.T, d store.Dialect, dbURL string) {
		b := startBackend(t, d, dbURL)
		c := seed(t, b)
		roles := map[string]*servertest.Client{"global admin": c.admin, "team owner": c.operator}
		for name, role := range map[string]store.Role{"viewer": store.RoleViewer, "member": store.RoleMember, "team admin": store.RoleAdmin} {
			u := b.CreateUser(t, strings.ReplaceAll(name, " ", "-")+"@example.org", false)
			b.AddMember(t, c.team, u, role)
			roles[name] = b.Login(t, u)
		}
		dir, id := register(t, b.URL, c.registrationToken(t), "Shared station")
		r := runAssembledStation(t, dir)
		_, statusPort, err := net.SplitHostPort(r.StatusAddr())
		require.NoError(t, err)

		queue := func(client *servertest.Client, typ string, payload any) *servertest.Response {
			return client.Do(t, http.MethodPost, "/api/satellites/"+id+"/commands", map[string]any{"type": typ, "payload": payload})
		}
		finished := func(cmdID string) commandView {
			var cv commandView
			eventually(t, func() bool {
				cv = commandIn(c.history(t, c.operator, id), cmdID)
				return cv.Status == api.CommandSucceeded || cv.Status == api.CommandFailed
			}, "command %s finished", cmdID)
			return cv
		}
		queued := func(r *servertest.Response) string {
			require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
			var cv commandView
			r.JSON(t, &cv)
			return cv.ID
		}

		// A viewer can make the station do nothing.
		viewer := roles["viewer"]
		assert.Equal(t, http.StatusForbidden, queue(viewer, api.CommandProcessStart, map[string]any{"name": "v", "program": "decoder-sim"}).Status)
		assert.Equal(t, http.StatusForbidden, queue(viewer, api.CommandConfigUpdate, map[string]any{"log_level": "debug"}).Status)

		for _, role := range []string{"member", "team admin", "team owner", "global admin"} {
			client := roles[role]
			name := "dec-" + uuid.NewString()[:8]
			// Anyone who may operate the station runs what the owner allowed...
			ok := queueAndFinish(t, queued, finished, queue(client, api.CommandProcessStart, map[string]any{"name": name, "program": "decoder-sim"}))
			assert.Equal(t, api.CommandSucceeded, ok.Status, "%s: an allowed program runs: %s", role, ok.Error)
			eventually(t, func() bool { return processEvent(t, c, id, api.EventProcessOutput, name) }, "%s: its output arrives", role)

			// ...and nothing else, whatever the role: a raw argv and loader variables are refused
			// by the backend, a program the station does not list by the station.
			raw := queue(client, api.CommandProcessStart, map[string]any{"name": "raw", "command": []string{"/bin/bash", "-c", "cat /var/lib/talos-satellite/api_key"}})
			assert.Equal(t, http.StatusBadRequest, raw.Status, "%s: raw argv", role)
			assert.Contains(t, string(raw.Body), "raw argv is not accepted")
			for _, v := range []string{"LD_PRELOAD", "PATH", "GCONV_PATH"} {
				env := queue(client, api.CommandProcessStart, map[string]any{"name": "env", "program": "decoder-sim", "env": map[string]string{v: "/tmp/x"}})
				assert.Equal(t, http.StatusBadRequest, env.Status, "%s: env %s", role, v)
				assert.Contains(t, string(env.Body), "env."+v)
			}
			bash := queueAndFinish(t, queued, finished, queue(client, api.CommandProcessStart, map[string]any{"name": "bash", "program": "bash"}))
			assert.Equal(t, api.CommandFailed, bash.Status, "%s: a program not on the allow-list", role)
			assert.Contains(t, bash.Error, `program: "bash" is not allowed by this station's allow-list of programs (proc.programs)`)

			// The allow-list and allow_unisolated are the owner's: config.update cannot touch them.
			for _, key := range []string{"programs", "proc", "allow_unisolated"} {
				cu := queue(client, api.CommandConfigUpdate, map[string]any{key: map[string]any{}})
				assert.Equal(t, http.StatusBadRequest, cu.Status, "%s: config.update %s", role, key)
			}
		}

		// A decoder has no network: the station's status endpoint on 127.0.0.1 is out of reach.
		probe := queueAndFinish(t, queued, finished, queue(roles["member"], api.CommandProcessStart,
			map[string]any{"name": "probe", "program": "probe-loopback", "args": []string{statusPort}}))
		require.Equal(t, api.CommandSucceeded, probe.Status, probe.Error)
		eventually(t, func() bool { return processEvent(t, c, id, api.EventProcessExited, "probe") }, "the probe ended")
		out := outputOf(t, c, id, "probe")
		assert.Contains(t, out, "loopback unreachable")
		assert.NotContains(t, out, "loopback reached")
	})
}

func queueAndFinish(t *testing.T, queued func(*servertest.Response) string, finished func(string) commandView, r *servertest.Response) commandView {
	t.Helper()
	return finished(queued(r))
}

// outputOf joins the output lines of a process as the user events API returns them.
func outputOf(t testing.TB, c *cast, satelliteID, name string) string {
	var b strings.Builder
	for _, ev := range c.allEvents(t, satelliteID, api.EventProcessOutput) {
		s := string(ev.Data)
		if strings.Contains(s, `"name":"`+name+`"`) {
			b.WriteString(s)
		}
	}
	return b.String()
}
