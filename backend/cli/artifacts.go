package cli

import (
	"fmt"
	"os"
	"path/filepath"

	"go.uber.org/zap"

	"github.com/talos-gs/talos/backend/artifacts"
	"github.com/talos-gs/talos/backend/config"
	"github.com/talos-gs/talos/backend/store"
)

// artifactService builds the artifact storage (filesystem, under TALOS_ARTIFACT_DIR) and the
// tus staging directory beside it.
func artifactService(cfg *config.Config, st *store.Store, log *zap.Logger) (*artifacts.Service, string, error) {
	fs, err := artifacts.NewFS(filepath.Join(cfg.ArtifactDir, "objects"))
	if err != nil {
		return nil, "", err
	}
	staging := filepath.Join(cfg.ArtifactDir, "uploads")
	if err := os.MkdirAll(staging, 0o700); err != nil {
		return nil, "", fmt.Errorf("artifact upload directory: %w", err)
	}
	svc := artifacts.New(artifacts.Service{Store: st, Storage: fs, Log: log.Named("artifacts"),
		Policy: artifacts.Policy{QuotaBytes: cfg.ArtifactQuotaBytes, Retention: cfg.ArtifactRetention, Kinds: cfg.ArtifactKinds}})
	return svc, staging, nil
}
