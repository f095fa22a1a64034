package api

import (
	"encoding/hex"
	"fmt"
	"path"
	"strings"
	"unicode/utf8"
)

// Artifact kinds: what a file in an output directory (TALOS_OUTPUT_DIR) is. The kind decides
// the backend's retention and whether the file is uploaded at all (ObservationOutput.Kinds).
const (
	// ArtifactWaterfall is a spectrogram image (PNG, JPEG).
	ArtifactWaterfall = "waterfall"
	// ArtifactAudio is demodulated audio (WAV, OGG, FLAC, MP3).
	ArtifactAudio = "audio"
	// ArtifactIQ is a raw complex baseband recording (.iq, .cf32, .cs16, .cu8, .raw, .sigmf-data).
	ArtifactIQ = "iq"
	// ArtifactFrames is JSON lines of decoded frames, one object a line:
	//   {"time": "2026-06-27T00:03:12.5Z", "hex": "c0ffee...", "fields": {...}}
	// with "base64" instead of "hex" allowed; fields is optional.
	ArtifactFrames = "frames"
	// ArtifactLog is a decoder's log text.
	ArtifactLog = "log"
	// ArtifactOther is any other file.
	ArtifactOther = "other"
)

// ArtifactKinds lists every kind, in the order the documentation gives them.
var ArtifactKinds = []string{ArtifactWaterfall, ArtifactAudio, ArtifactIQ, ArtifactFrames, ArtifactLog, ArtifactOther}

// ValidArtifactKind reports whether kind is one of ArtifactKinds.
func ValidArtifactKind(kind string) bool {
	for _, k := range ArtifactKinds {
		if k == kind {
			return true
		}
	}
	return false
}

// Upload limits shared by both sides.
const (
	// MaxArtifactNameLength is the longest artifact file name, in bytes.
	MaxArtifactNameLength = 200
	// MaxUploadChunkBytes is the largest body of one upload PATCH, in bytes; the backend
	// accepts it whatever its general body limit.
	MaxUploadChunkBytes = 16 << 20
	// MaxArtifactBytes is the largest artifact, in bytes (64 GiB).
	MaxArtifactBytes = 64 << 30
	// MaxFrameBytes is the largest frame of a frames artifact, in bytes after decoding.
	MaxFrameBytes = 64 << 10
)

// Artifact sources: what an upload is bound to.
const (
	// SourceObservation binds an upload to an observation (source_id: the observation id).
	SourceObservation = "observation"
	// SourceProcess binds an upload to a process started by process.start with output on
	// (source_id: the process.start command id).
	SourceProcess = "process"
)

// Upload-Metadata keys of a tus creation request (values are base64 in the header, as tus
// requires).
const (
	UploadMetaSource   = "source"
	UploadMetaSourceID = "source_id"
	UploadMetaName     = "filename"
	UploadMetaKind     = "kind"
	UploadMetaSHA256   = "sha256"
	// UploadMetaContentType is the file's media type (optional).
	UploadMetaContentType = "filetype"
)

// HeaderArtifactID is set on the answer that finishes an upload (the last PATCH, or a HEAD or
// PATCH on an upload already whole): the id of the artifact recorded. An answer with every
// byte acknowledged but without it means the backend has not recorded the file yet; ask again.
const HeaderArtifactID = "Talos-Artifact-Id"

// Error codes of the upload routes (in the JSON error body, and the tus answer's body).
const (
	// ErrUploadHashMismatch: the bytes received do not have the SHA-256 announced. The
	// upload is deleted; the station uploads the file again from the start.
	ErrUploadHashMismatch = "upload_hash_mismatch"
	// ErrUploadQuota: the team's artifact quota would be exceeded.
	ErrUploadQuota = "artifact_quota_exceeded"
	// ErrUploadKind: the backend does not take this kind of artifact.
	ErrUploadKind = "artifact_kind_not_allowed"
	// ErrUploadNotBound: the observation or process is not one this satellite was sent.
	ErrUploadNotBound = "upload_not_bound"
)

// UploadMeta is the validated metadata of an upload.
type UploadMeta struct {
	Source      string
	SourceID    string
	Name        string
	Kind        string
	SHA256      string
	ContentType string
}

// UploadFieldError names the metadata field that is wrong.
type UploadFieldError struct {
	Field  string
	Reason string
}

func (e *UploadFieldError) Error() string { return e.Field + ": " + e.Reason }

func uploadErr(field, format string, args ...any) error {
	return &UploadFieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// ParseUploadMeta validates an upload's metadata.
func ParseUploadMeta(m map[string]string) (UploadMeta, error) {
	u := UploadMeta{Source: m[UploadMetaSource], SourceID: m[UploadMetaSourceID], Name: m[UploadMetaName],
		Kind: m[UploadMetaKind], SHA256: strings.ToLower(m[UploadMetaSHA256]), ContentType: m[UploadMetaContentType]}
	switch {
	case u.Source != SourceObservation && u.Source != SourceProcess:
		return u, uploadErr(UploadMetaSource, "must be %q or %q", SourceObservation, SourceProcess)
	case ValidateObservationID(u.SourceID) != nil:
		return u, uploadErr(UploadMetaSourceID, "must be 1 to %d characters of A-Z, a-z, 0-9, '-', '_'", MaxObservationIDLength)
	case !ValidArtifactKind(u.Kind):
		return u, uploadErr(UploadMetaKind, "must be one of %s", strings.Join(ArtifactKinds, ", "))
	case len(u.SHA256) != 64 || !isHex(u.SHA256):
		return u, uploadErr(UploadMetaSHA256, "must be 64 hexadecimal digits (the file's SHA-256)")
	case len(u.ContentType) > 128 || strings.ContainsAny(u.ContentType, "\x00\r\n"):
		return u, uploadErr(UploadMetaContentType, "must be a media type of at most 128 bytes")
	}
	if err := ValidateArtifactName(u.Name); err != nil {
		return u, err
	}
	return u, nil
}

func isHex(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil
}

// ValidateArtifactName checks an artifact's file name: a plain name (no directory), 1 to
// MaxArtifactNameLength bytes of UTF-8 without control characters, not starting with '.'.
func ValidateArtifactName(name string) error {
	switch {
	case name == "" || len(name) > MaxArtifactNameLength:
		return uploadErr(UploadMetaName, "must be 1 to %d bytes", MaxArtifactNameLength)
	case !utf8.ValidString(name):
		return uploadErr(UploadMetaName, "must be UTF-8")
	case strings.ContainsAny(name, "/\\") || strings.HasPrefix(name, "."):
		return uploadErr(UploadMetaName, "must be a plain file name, without a directory or a leading '.'")
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return uploadErr(UploadMetaName, "contains a control character")
		}
	}
	return nil
}

// ArtifactKindFromName gives a file's kind by its name (docs/processes.md "Output files"): a
// name containing "waterfall" with an image extension is a waterfall; audio, IQ and frames
// files go by extension; .log and .txt are logs; everything else is other.
func ArtifactKindFromName(name string) string {
	lower := strings.ToLower(name)
	ext := path.Ext(lower)
	switch ext {
	case ".png", ".jpg", ".jpeg", ".webp":
		if strings.Contains(lower, "waterfall") || strings.Contains(lower, "spectrogram") {
			return ArtifactWaterfall
		}
		return ArtifactOther
	case ".wav", ".ogg", ".flac", ".mp3", ".opus":
		return ArtifactAudio
	case ".iq", ".cf32", ".cs16", ".cu8", ".cs8", ".raw", ".sigmf-data":
		return ArtifactIQ
	case ".jsonl", ".ndjson":
		if strings.Contains(lower, "frame") {
			return ArtifactFrames
		}
		return ArtifactOther
	case ".log", ".txt":
		return ArtifactLog
	}
	return ArtifactOther
}

// OutputSettings is the optional "output" of a process.start payload or an observation's
// process: whether the process gets an output directory (TALOS_OUTPUT_DIR) whose files are
// uploaded as artifacts after it exits, and which kinds to upload. An observation's decoder
// always gets one; Kinds there limits what leaves the station (a metered link may take
// waterfall and frames only).
type OutputSettings struct {
	// Enabled gives a process.start an output directory (an observation's decoder always has
	// one).
	Enabled bool `json:"enabled"`
	// Kinds are the kinds to upload; empty uploads every kind. Files of other kinds stay on
	// the station (and count against its disk budget until it deletes them).
	Kinds []string `json:"kinds,omitempty"`
}

// Validate checks the kinds named.
func (o *OutputSettings) Validate() error {
	if len(o.Kinds) > len(ArtifactKinds) {
		return payloadErr("output.kinds", "names %d kinds, there are only %d", len(o.Kinds), len(ArtifactKinds))
	}
	for i, k := range o.Kinds {
		if !ValidArtifactKind(k) {
			return payloadErr(fmt.Sprintf("output.kinds[%d]", i), "%q is not one of %s", k, strings.Join(ArtifactKinds, ", "))
		}
	}
	return nil
}

// Uploads reports whether a file of kind is to be uploaded.
func (o *OutputSettings) Uploads(kind string) bool {
	if o == nil || len(o.Kinds) == 0 {
		return true
	}
	for _, k := range o.Kinds {
		if k == kind {
			return true
		}
	}
	return false
}

// Event types of the upload spool (station → backend).
const (
	// EventArtifactUploaded: a file of an output directory became an artifact.
	EventArtifactUploaded = "artifact.uploaded"
	// EventArtifactRefused: the backend refused a file for good (or it vanished); it stays on
	// the station.
	EventArtifactRefused = "artifact.refused"
	// EventArtifactDropped: the station's disk budget deleted a file before it was uploaded.
	EventArtifactDropped = "artifact.dropped"
)
