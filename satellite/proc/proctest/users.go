// Package proctest helps tests that run satellite/proc as root leave the machine as they found
// it: proc makes a system user (and its group) per team, and nothing else removes them.
package proctest

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"os/user"
	"strings"
	"testing"
	"time"
)

// passwdFile is where useradd --system puts the users proc makes.
const passwdFile = "/etc/passwd"

// RemoveTeamUsers removes, when the test ends, the system users proc made for the given team
// ids, and their groups. Call it before starting what creates them, so that it runs after that
// has stopped (cleanups run last-in, first-out). A user is recognised by the comment proc gives
// it, "talos team <id>", never by a name pattern, so users of other tests and programs on the
// machine are left alone. Without root nothing was made and nothing is done.
func RemoveTeamUsers(t testing.TB, teams ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		return
	}
	t.Cleanup(func() {
		for _, team := range teams {
			for _, name := range usersOfTeam(t, team) {
				removeUser(t, name)
			}
		}
	})
}

// usersOfTeam lists the users whose comment says proc made them for team.
func usersOfTeam(t testing.TB, team string) []string {
	raw, err := os.ReadFile(passwdFile)
	if err != nil {
		t.Errorf("read %s: %v", passwdFile, err)
		return nil
	}
	var names []string
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		// name:password:uid:gid:comment:home:shell
		f := strings.Split(sc.Text(), ":")
		if len(f) == 7 && f[4] == "talos team "+team {
			names = append(names, f[0])
		}
	}
	return names
}

// removeUser deletes the user and its group, retrying while a parallel test's useradd or
// userdel holds the /etc/passwd lock.
func removeUser(t testing.TB, name string) {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		_, uerr := user.Lookup(name)
		_, gerr := user.LookupGroup(name)
		if uerr != nil && gerr != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if uerr == nil {
			// #nosec G204 -- name is read from /etc/passwd, picked by proc's comment for the team.
			_ = exec.CommandContext(ctx, "userdel", "--force", name).Run() // checked by the lookups above
		} else {
			// #nosec G204 -- as above.
			_ = exec.CommandContext(ctx, "groupdel", name).Run() // as above
		}
		cancel()
		timer := time.NewTimer(50 * time.Millisecond)
		<-timer.C
	}
	t.Errorf("could not remove the test's system user or group %s", name)
}
