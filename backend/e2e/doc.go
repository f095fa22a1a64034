// Package e2e holds the end-to-end tests of the satellite protocol: the real talos-backend
// (server.New on a real store, served over a real TCP listener on 127.0.0.1) talking to the
// real talos-satellite runner (satellite/runner), registered through the real
// `talos-satellite register` command with a registration token made through the user API. It
// is the one package allowed to import both sides; depguard exempts its files by their
// _e2e_test.go suffix, so every file that imports satellite/... must be named that way.
//
// Every test runs on SQLite and on PostgreSQL (storetest: a fresh schema per test). What is
// covered:
//
//   - registration, then the station in the team's satellite list, online with a last-seen
//     time, and its heartbeats in the user heartbeats API with real system metrics;
//   - an immediate ping created through the user API reaches the runner through the long-poll
//     it was already holding (the short-poll interval is 60 s, so nothing else could deliver it
//     in time), runs, and shows as succeeded in the command history;
//   - 10,000 events with known ids and sequence numbers, emitted at a steady rate by a runner
//     running in a child process (the test binary re-executed), arrive exactly once although
//     the backend is stopped and restarted on the same address and database mid-stream and the
//     runner is killed with SIGKILL twice (once while the backend is down, once while it is
//     catching up) and restarted on the same state directory; a command the first SIGKILL
//     interrupted is reported failed by the next process and not run again;
//   - on PostgreSQL, a command created on one backend instance reaches a runner long-polling
//     another instance (LISTEN/NOTIFY);
//   - a stopped runner is marked offline by the backend's sweeper (with an event) and is back
//     online at its restart; re-registering a running station rotates its key and the runner
//     holding the old key stops with ErrUnauthorized;
//   - with the runner's status reports cut, a command's lease lapses and the backend delivers
//     it again; once the reports get through it has run exactly once and succeeded.
//
// TestConfigUpdateHeartbeatIntervalSticks is skipped: it shows a known bug (a config.update
// of heartbeat_seconds is undone by the backend's next heartbeat answer).
//
// Heartbeats come every heartbeat.MinInterval (5 s): the runner clamps shorter intervals, so
// the tests that wait for heartbeats take a few seconds each.
//
// Run them with
//
//	TALOS_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test?sslmode=disable \
//	TALOS_REQUIRE_INTEGRATION=1 go test -race -count=1 ./backend/e2e/
//
// Without TALOS_TEST_DATABASE_URL the PostgreSQL half is skipped (it fails instead under
// TALOS_REQUIRE_INTEGRATION=1). -short skips the 10,000-event test. The latency of long-poll
// delivery is measured, not asserted, by
//
//	go test -run '^$' -bench BenchmarkLongPollDelivery -benchtime 50x ./backend/e2e/
//
// which reports ms from command creation to the runner holding it (ms-delivered/op) and to
// the backend recording it succeeded (ms-succeeded/op).
package e2e
