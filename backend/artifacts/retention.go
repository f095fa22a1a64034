package artifacts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/backend/store"
)

// sweepBatch bounds the artifacts one retention query returns.
const sweepBatch = 500

// ParseTeamRetention reads a team's retention JSON ({"iq": 604800}, seconds; 0 keeps for
// ever), naming the bad kind or value.
func ParseTeamRetention(raw string) (map[string]time.Duration, error) {
	out := map[string]time.Duration{}
	if raw == "" {
		return out, nil
	}
	var secs map[string]int64
	if err := json.Unmarshal([]byte(raw), &secs); err != nil {
		return nil, fmt.Errorf("retention: must be a JSON object of kind to seconds: %w", err)
	}
	for k, v := range secs {
		switch {
		case !api.ValidArtifactKind(k):
			return nil, fmt.Errorf("retention.%s: not an artifact kind", k)
		case v < 0 || v > 100*365*86400:
			return nil, fmt.Errorf("retention.%s: %d seconds must be 0 (for ever) to 100 years", k, v)
		}
		out[k] = time.Duration(v) * time.Second
	}
	return out, nil
}

// Sweep deletes the artifacts past their retention (per kind, a team's own over the default):
// the row first, then its bytes, so a crash between leaves at worst an orphan object, never a
// row without bytes. It returns how many it deleted. Several replicas may sweep at once: a row
// already deleted by another is skipped.
func (s *Service) Sweep(ctx context.Context) (int64, error) {
	teams, err := s.Store.AllArtifactSettings(ctx)
	if err != nil {
		return 0, err
	}
	own := map[string]map[string]time.Duration{}
	for _, t := range teams {
		r, err := ParseTeamRetention(t.Retention)
		if err != nil {
			s.Log.Warn("team artifact retention ignored", zap.String("team_id", t.TeamID), zap.Error(err))
			continue
		}
		own[t.TeamID] = r
	}
	now := s.Store.Now()
	var total int64
	for _, kind := range api.ArtifactKinds {
		var except []string
		for team, r := range own {
			if d, ok := r[kind]; ok {
				except = append(except, team)
				n, err := s.sweepOne(ctx, kind, team, nil, d, now)
				total += n
				if err != nil {
					return total, err
				}
			}
		}
		n, err := s.sweepOne(ctx, kind, "", except, s.Policy.Retention[kind], now)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

func (s *Service) sweepOne(ctx context.Context, kind, team string, except []string, keep time.Duration, now time.Time) (int64, error) {
	if keep <= 0 {
		return 0, nil
	}
	var n int64
	for {
		old, err := s.Store.ArtifactsOlderThan(ctx, kind, team, except, now.Add(-keep), sweepBatch)
		if err != nil {
			return n, err
		}
		for _, a := range old {
			if err := s.Delete(ctx, &a); err != nil {
				return n, err
			}
			n++
		}
		if len(old) < sweepBatch {
			return n, nil
		}
	}
}

// Delete removes an artifact: its row (and frames), then its bytes.
func (s *Service) Delete(ctx context.Context, a *store.Artifact) error {
	if err := s.Store.DeleteArtifact(ctx, a.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if err := s.Storage.Delete(ctx, a.StorageKey); err != nil {
		s.Log.Warn("artifact row deleted, its bytes not", zap.String("artifact_id", a.ID), zap.String("key", a.StorageKey), zap.Error(err))
	}
	return nil
}
