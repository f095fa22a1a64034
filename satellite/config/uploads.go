package config

import "fmt"

// Uploads configures the upload spool (satellite/upload, docs/satellite.md "Uploads").
type Uploads struct {
	// RateBytes caps the upload bandwidth in bytes per second; 0 is no cap.
	RateBytes int64 `yaml:"rate_bytes" env:"TALOS_UPLOADS_RATE_BYTES"`
	// DuringPass is what uploads do while a pass is tracked: pause, throttle or continue.
	DuringPass string `yaml:"during_pass" env:"TALOS_UPLOADS_DURING_PASS"`
	// PassRateBytes is the cap while a pass is tracked with during_pass throttle.
	PassRateBytes int64 `yaml:"pass_rate_bytes" env:"TALOS_UPLOADS_PASS_RATE_BYTES"`
	// ChunkBytes is the most one request carries (64 KiB to 16 MiB).
	ChunkBytes int64 `yaml:"chunk_bytes" env:"TALOS_UPLOADS_CHUNK_BYTES"`
	// DiskBudgetBytes bounds what output files may take on the station.
	DiskBudgetBytes int64 `yaml:"disk_budget_bytes" env:"TALOS_UPLOADS_DISK_BUDGET_BYTES"`
}

func defaultUploads() Uploads {
	return Uploads{DuringPass: "pause", ChunkBytes: 4 << 20, DiskBudgetBytes: 10 << 30}
}

// Validate checks the section (called by Config.Validate).
func (u Uploads) Validate() error {
	switch {
	case u.RateBytes < 0:
		return fmt.Errorf("rate_bytes: must be 0 (no cap) or more, got %d", u.RateBytes)
	case u.DuringPass != "pause" && u.DuringPass != "throttle" && u.DuringPass != "continue":
		return fmt.Errorf("during_pass: must be pause, throttle or continue, got %q", u.DuringPass)
	case u.DuringPass == "throttle" && u.PassRateBytes <= 0:
		return fmt.Errorf("pass_rate_bytes: must be set (bytes per second) with during_pass throttle")
	case u.PassRateBytes < 0:
		return fmt.Errorf("pass_rate_bytes: must be 0 or more, got %d", u.PassRateBytes)
	case u.ChunkBytes < 64<<10 || u.ChunkBytes > 16<<20:
		return fmt.Errorf("chunk_bytes: must be 65536 to 16777216, got %d", u.ChunkBytes)
	case u.DiskBudgetBytes < 1<<20:
		return fmt.Errorf("disk_budget_bytes: must be at least 1048576 (1 MiB), got %d", u.DiskBudgetBytes)
	}
	return nil
}
