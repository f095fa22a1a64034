// Package update is talos-satellite's self-update (runner.update, decision 0103): it verifies a
// release signed offline against update.public_key, waits while a pass runs or one is due
// within a margin, downloads the artifact from the backend next to the running binary, swaps it
// in with a rename (keeping the previous binary) and asks the runner to exit with ExitRestart so
// systemd starts the new one. The new binary is then on trial: without a successful poll and
// heartbeat within the trial time, or after crashing MaxTrialStarts times, it puts the previous
// binary back by itself and restarts.
package update

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ExitRestart is the runner's exit code after it swapped its binary or rolled back
// (sysexits EX_TEMPFAIL): the systemd unit restarts on it (RestartForceExitStatus=75).
const ExitRestart = 75

// Modes of update.mode.
const (
	ModeAuto   = "auto"   // runner.update is applied (with a public key)
	ModeManual = "manual" // runner.update is refused; the operator updates by hand
)

// Config is the update section of the station's configuration.
type Config struct {
	// Mode is auto or manual (opt out of remote updates).
	Mode string `yaml:"mode" env:"TALOS_UPDATE_MODE"`
	// PublicKey is the operator's ed25519 release key: a PEM "PUBLIC KEY" block (openssl pkey
	// -pubout) or the 32 raw bytes in standard base64. Empty: every update is refused.
	PublicKey string `yaml:"public_key" env:"TALOS_UPDATE_PUBLIC_KEY"`
	// DeferMargin: no update while a pass runs or starts (its prepare lead included) within it.
	DeferMargin time.Duration `yaml:"defer_margin" env:"TALOS_UPDATE_DEFER_MARGIN"`
	// Trial is how long a new binary has to complete a successful poll and heartbeat.
	Trial time.Duration `yaml:"trial" env:"TALOS_UPDATE_TRIAL"`
	// MaxTrialStarts: a new binary started this many times without passing its trial is rolled
	// back at the next start (a crash loop).
	MaxTrialStarts int `yaml:"max_trial_starts" env:"TALOS_UPDATE_MAX_TRIAL_STARTS"`
	// Binary is the file to replace; empty: the running executable.
	Binary string `yaml:"binary" env:"TALOS_UPDATE_BINARY"`
}

// DefaultConfig is the section's default.
func DefaultConfig() Config {
	return Config{Mode: ModeAuto, DeferMargin: 10 * time.Minute, Trial: 120 * time.Second, MaxTrialStarts: 3}
}

// Validate checks the section; errors name the key (the caller prefixes "update.").
func (c Config) Validate() error {
	switch {
	case c.Mode != ModeAuto && c.Mode != ModeManual:
		return fmt.Errorf("mode: must be auto or manual, got %q", c.Mode)
	case c.DeferMargin < 0 || c.DeferMargin > 24*time.Hour:
		return fmt.Errorf("defer_margin: must be 0 to 24h, got %s", c.DeferMargin)
	case c.Trial < 5*time.Second || c.Trial > time.Hour:
		return fmt.Errorf("trial: must be 5s to 1h, got %s", c.Trial)
	case c.MaxTrialStarts < 1 || c.MaxTrialStarts > 100:
		return fmt.Errorf("max_trial_starts: must be 1 to 100, got %d", c.MaxTrialStarts)
	}
	if c.PublicKey != "" {
		if _, err := ParsePublicKey(c.PublicKey); err != nil {
			return fmt.Errorf("public_key: %w", err)
		}
	}
	return nil
}

// ParsePublicKey reads an ed25519 public key: a PEM PKIX "PUBLIC KEY" block, or 32 bytes in
// standard base64.
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	s = strings.TrimSpace(s)
	if block, _ := pem.Decode([]byte(s)); block != nil {
		if block.Type != "PUBLIC KEY" {
			return nil, fmt.Errorf("PEM block is %q, want PUBLIC KEY", block.Type)
		}
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("PEM public key: %w", err)
		}
		pub, ok := k.(ed25519.PublicKey)
		if !ok {
			return nil, fmt.Errorf("PEM public key is a %T, want ed25519", k)
		}
		return pub, nil
	}
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(raw) != ed25519.PublicKeySize {
		return nil, errors.New("want a PEM PUBLIC KEY block or 32 bytes of ed25519 key in standard base64")
	}
	return ed25519.PublicKey(raw), nil
}
