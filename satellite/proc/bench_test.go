package proc

import (
	"context"
	"os"
	"testing"

	"go.uber.org/zap"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/satellite/events"
)

// BenchmarkStartStop measures one start (team user resolved, cgroup made, shim released or
// clone into cgroup, namespaces made and the private /tmp bound) plus one stop (SIGTERM, reap,
// group removed) of `sleep 600`; isolation=off is the same on a runner allowed to run
// unisolated, to show what the namespaces cost.
func BenchmarkStartStop(b *testing.B) {
	for _, bc := range []struct{ mode, iso string }{{"auto", "on"}, {"auto", "off"}, {"off", "on"}, {"off", "off"}} {
		mode := bc.mode
		b.Run("cgroups="+mode+"/isolation="+bc.iso, func(b *testing.B) {
			if os.Geteuid() != 0 {
				b.Skip("needs root")
			}
			base, err := os.MkdirTemp(testDirBase(), "talos-proc-bench-")
			if err != nil {
				b.Fatal(err)
			}
			defer func() { _ = os.RemoveAll(base) }()
			if err := os.Chmod(base, 0o711); err != nil {
				b.Fatal(err)
			}
			team := unique("b")
			m, err := New(context.Background(), Options{Config: Config{Cgroups: mode, CgroupParent: unique("talos-bench-"), WorkDir: base + "/teams", OwnTeam: team},
				Log: zap.NewNop(), Emitter: events.EmitterFunc(func(api.Event) {})})
			if err != nil {
				b.Fatal(err)
			}
			if bc.iso == "off" {
				m.iso = isolation{allow: true, reason: "benchmark without namespaces"}
			}
			b.Logf("cgroup limits: %s, isolation: %s", m.CgroupLimits(), m.Isolation())
			defer func() { _ = execCommand("userdel", "--force", teamUserName(team)) }()
			ctx := context.Background()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := m.Start(ctx, Spec{Name: "bench", Team: team, Command: []string{"sleep", "600"}}); err != nil {
					b.Fatal(err)
				}
				if _, err := m.Stop(ctx, "bench"); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			_ = m.lim.Close()
		})
	}
}
