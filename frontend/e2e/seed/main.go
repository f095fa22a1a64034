// Command seed fills a team with many stations for the web UI's load measurement
// (frontend/e2e): it registers them through the store, as registration does, each with one
// heartbeat, and prints the API key of the first as JSON so the test can send heartbeats as it.
// Only the browser tests run it (go run ./frontend/e2e/seed); it is no part of Talos.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/backend/auth"
	"github.com/talos-gs/talos/backend/server"
	"github.com/talos-gs/talos/backend/store"
)

func main() {
	db := flag.String("database", "", "the backend's database (SQLite path or postgres:// URL)")
	team := flag.String("team", "", "team id")
	count := flag.Int("count", 1000, "how many stations")
	flag.Parse()
	if err := seed(*db, *team, *count); err != nil {
		fmt.Fprintln(os.Stderr, "seed:", err)
		os.Exit(1)
	}
}

func seed(db, team string, count int) error {
	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{URL: db})
	if err != nil {
		return err
	}
	defer func() { _ = st.Close() }()
	tok := &store.RegistrationToken{ID: store.NewID(), TeamID: &team, Name: "e2e seed", UsesAllowed: count,
		ExpiresAt: time.Now().Add(time.Hour)}
	if err := st.CreateRegistrationToken(ctx, tok); err != nil {
		return err
	}
	// One secret for all: argon2id once, not a thousand times (each key still has its own id).
	first, err := auth.NewKey(server.PrefixSatellite)
	if err != nil {
		return err
	}
	hash, err := auth.Hasher{Params: auth.DefaultParams}.Hash(first.Secret)
	if err != nil {
		return err
	}
	var firstID string
	for i := range count {
		key := first
		if i > 0 {
			k, err := auth.NewKey(server.PrefixSatellite)
			if err != nil {
				return err
			}
			key.ID = k.ID
		}
		id, err := station(ctx, st, tok.ID, key, hash, i)
		if err != nil {
			return err
		}
		if i == 0 {
			firstID = id
		}
	}
	return json.NewEncoder(os.Stdout).Encode(map[string]string{"id": firstID, "key": first.String()})
}

// station registers station i (spread over the globe) and records a heartbeat for it.
func station(ctx context.Context, st *store.Store, tokenID string, key auth.Key, hash string, i int) (string, error) {
	sat, err := st.RegisterSatellite(ctx, store.Registration{TokenID: tokenID, Name: fmt.Sprintf("fleet-%04d", i),
		Lat: float64((i*37)%140 - 70), Lon: float64((i*73)%360 - 180), Version: "seed", Capabilities: []string{"rotator"},
		APIKeyID: key.ID, APIKeyHash: hash, HeartbeatSeconds: 3600})
	if err != nil {
		return "", err
	}
	report, err := json.Marshal(api.Heartbeat{Status: api.StatusOnline, Version: "seed",
		System: api.SystemMetrics{CPUPercent: float64(i % 100)}})
	if err != nil {
		return "", err
	}
	_, err = st.RecordHeartbeat(ctx, &store.Heartbeat{SatelliteID: sat.ID, Status: string(api.StatusOnline),
		Version: "seed", CPUPercent: float64(i % 100), Report: string(report)})
	return sat.ID, err
}
