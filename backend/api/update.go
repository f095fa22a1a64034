package api

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
)

// Self-update (runner.update): the backend serves a release artifact that the operator signed
// offline; the satellite downloads it through its own API, verifies the signature against the
// public key in its configuration, swaps its binary and restarts. Decision 0103.

// CommandRunnerUpdate asks a satellite to update itself to a release (RunnerUpdatePayload).
const CommandRunnerUpdate = "runner.update"

// Events of the self-update, each with RunnerUpdateEventData.
const (
	// EventRunnerUpdated: the new binary passed its trial (a successful poll and heartbeat).
	EventRunnerUpdated = "runner.updated"
	// EventRunnerUpdateRestarting: the binary was swapped; the runner restarts into it.
	EventRunnerUpdateRestarting = "runner.update_restarting"
	// EventRunnerUpdateDeferred: a pass runs or is due within the margin; the runner waits.
	EventRunnerUpdateDeferred = "runner.update_deferred"
	// EventRunnerUpdateRefused: manual updates, no public key, a bad signature or artifact.
	EventRunnerUpdateRefused = "runner.update_refused"
	// EventRunnerRolledBack: the new binary failed its trial or crashed; the previous one is back.
	EventRunnerRolledBack = "runner.rolled_back"
)

// RunnerUpdateEventData is the data of the runner.update_* and runner.rolled_back events.
type RunnerUpdateEventData struct {
	// From is the version running when the update started, To the release's version.
	From string `json:"from"`
	To   string `json:"to"`
	// Reason says why the update was deferred, refused or rolled back.
	Reason string `json:"reason,omitempty"`
	// ReleaseID is the release artifact.
	ReleaseID string `json:"release_id,omitempty"`
}

// RunnerUpdatePayload is the payload of runner.update. Every field is required; the satellite
// checks the artifact's size and SHA-256 and the signature before it replaces anything.
type RunnerUpdatePayload struct {
	// ReleaseID is the artifact to download: GET /api/satellites/{id}/releases/{release_id}.
	ReleaseID string `json:"release_id"`
	// Version is the release's version (what the new binary reports).
	Version string `json:"version"`
	// OS and Arch are the artifact's GOOS and GOARCH (arm is armv7); the satellite refuses an
	// artifact built for another platform.
	OS   string `json:"os"`
	Arch string `json:"arch"`
	// Size is the artifact's length in bytes.
	Size int64 `json:"size"`
	// SHA256 is the artifact's SHA-256, 64 lower-case hex digits.
	SHA256 string `json:"sha256"`
	// Signature is the standard base64 ed25519 signature of ReleaseMessage(version, os, arch,
	// sha256), made offline with the operator's private key.
	Signature string `json:"signature"`
}

// Bounds of a release.
const (
	// MaxReleaseBytes is the largest release artifact, in bytes (256 MiB).
	MaxReleaseBytes = 256 << 20
	// MaxReleaseVersionBytes is the longest release version.
	MaxReleaseVersionBytes = 64
)

var (
	releaseVersionRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]*$`)
	releaseIDRE      = regexp.MustCompile(`^[A-Za-z0-9-]{1,64}$`)
	sha256RE         = regexp.MustCompile(`^[0-9a-f]{64}$`)
	platformRE       = regexp.MustCompile(`^[a-z0-9]{1,16}$`)
)

// ValidateRelease checks the fields every release carries (on upload and in runner.update);
// errors name the field.
func ValidateRelease(version, goos, goarch string, size int64, sha256Hex, signature string) error {
	switch {
	case len(version) == 0 || len(version) > MaxReleaseVersionBytes || !releaseVersionRE.MatchString(version):
		return runnerErr("version", "must be 1 to %d letters, digits, '.', '_', '+' or '-' (starting with a letter or digit), got %q",
			MaxReleaseVersionBytes, version)
	case !platformRE.MatchString(goos):
		return runnerErr("os", "must be a GOOS such as linux, got %q", goos)
	case !platformRE.MatchString(goarch):
		return runnerErr("arch", "must be a GOARCH such as arm64, arm or amd64, got %q", goarch)
	case size <= 0 || size > MaxReleaseBytes:
		return runnerErr("size", "must be 1 to %d bytes, got %d", MaxReleaseBytes, size)
	case !sha256RE.MatchString(sha256Hex):
		return runnerErr("sha256", "must be 64 lower-case hex digits")
	}
	if _, err := DecodeReleaseSignature(signature); err != nil {
		return err
	}
	return nil
}

// Validate checks a runner.update payload.
func (p *RunnerUpdatePayload) Validate() error {
	if !releaseIDRE.MatchString(p.ReleaseID) {
		return runnerErr("release_id", "must be a release id, got %q", p.ReleaseID)
	}
	return ValidateRelease(p.Version, p.OS, p.Arch, p.Size, p.SHA256, p.Signature)
}

// DecodeReleaseSignature decodes a standard base64 ed25519 signature (64 bytes).
func DecodeReleaseSignature(s string) ([]byte, error) {
	sig, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil || len(sig) != ed25519.SignatureSize {
		return nil, runnerErr("signature", "must be a standard base64 ed25519 signature (%d bytes)", ed25519.SignatureSize)
	}
	return sig, nil
}

// ReleaseMessage is the exact text the operator signs for a release: it binds the artifact's
// hash to its version and platform, so a signed old or foreign binary cannot be passed off as
// another release. With openssl (docs/operations.md):
//
//	printf 'talos-satellite-release-v1\n%s\n%s/%s\n%s\n' VERSION OS ARCH SHA256
func ReleaseMessage(version, goos, goarch, sha256Hex string) []byte {
	return fmt.Appendf(nil, "talos-satellite-release-v1\n%s\n%s/%s\n%s\n", version, goos, goarch, sha256Hex)
}

// VerifyRelease checks sig (base64) over ReleaseMessage with the public key.
func VerifyRelease(pub ed25519.PublicKey, version, goos, goarch, sha256Hex, sig string) error {
	raw, err := DecodeReleaseSignature(sig)
	if err != nil {
		return err
	}
	if _, err := hex.DecodeString(sha256Hex); err != nil {
		return runnerErr("sha256", "must be hex")
	}
	if !ed25519.Verify(pub, ReleaseMessage(version, goos, goarch, sha256Hex), raw) {
		return fmt.Errorf("the signature does not verify with update.public_key (signed for another version, platform or file, or with another key)")
	}
	return nil
}

// RunnerUpdateResult is the result of runner.update.
type RunnerUpdateResult struct {
	// From is the version that ran the command, To the release's.
	From string `json:"from"`
	To   string `json:"to"`
	// Status is restarting (swapped; the runner restarts into To, whose trial reports
	// runner.updated or runner.rolled_back) or current (To already runs: nothing to do).
	Status string `json:"status"`
}

// UpdateManualReason is in the error of a runner.update refused by a station that updates by
// hand (update.mode: manual); a rollout counts such a station as skipped.
const UpdateManualReason = "this station updates by hand (update.mode: manual)"

// RunnerUpdateResult statuses.
const (
	UpdateRestarting = "restarting"
	UpdateCurrent    = "current"
)
