package waterfall

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// maxSidecarBytes bounds the SigMF metadata file read; real ones are a few kilobytes.
const maxSidecarBytes = 1 << 20

// sigmfMeta is what this package takes from a SigMF metadata file (https://sigmf.org): the
// datatype and sample rate of its global object, and the centre frequency, start time and header
// bytes of its first capture.
type sigmfMeta struct {
	path       string
	datatype   string
	sampleRate float64
	centreHz   float64
	start      time.Time
	offset     int64
}

// sigmfFile is the part of the SigMF JSON read.
type sigmfFile struct {
	Global struct {
		Datatype   string  `json:"core:datatype"`
		SampleRate float64 `json:"core:sample_rate"`
	} `json:"global"`
	Captures []struct {
		Frequency   float64 `json:"core:frequency"`
		Datetime    string  `json:"core:datetime"`
		HeaderBytes int64   `json:"core:header_bytes"`
	} `json:"captures"`
}

// sidecarPath is where the SigMF metadata of a recording is looked for: the recording's name
// with its extension replaced by .sigmf-meta (rec.sigmf-data, rec.cf32 → rec.sigmf-meta).
func sidecarPath(path string) string {
	return strings.TrimSuffix(path, filepath.Ext(path)) + ".sigmf-meta"
}

// readSidecar reads the SigMF sidecar of path; nil when there is none.
func readSidecar(path string) (*sigmfMeta, error) {
	mp := sidecarPath(path)
	f, err := os.Open(mp)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sigmf sidecar: %w", err)
	}
	defer func() { _ = f.Close() }() // read-only
	data, err := io.ReadAll(io.LimitReader(f, maxSidecarBytes+1))
	if err != nil {
		return nil, fmt.Errorf("sigmf sidecar %s: %w", mp, err)
	}
	if len(data) > maxSidecarBytes {
		return nil, fmt.Errorf("sigmf sidecar %s: larger than %d bytes", mp, maxSidecarBytes)
	}
	meta, err := parseSigMF(data)
	if err != nil {
		return nil, fmt.Errorf("sigmf sidecar %s: %w", mp, err)
	}
	meta.path = mp
	return meta, nil
}

// parseSigMF checks and reads the fields this package uses.
func parseSigMF(data []byte) (*sigmfMeta, error) {
	var f sigmfFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, err
	}
	m := &sigmfMeta{datatype: f.Global.Datatype, sampleRate: f.Global.SampleRate}
	if !finite(m.sampleRate) || m.sampleRate < 0 {
		return nil, fmt.Errorf("global core:sample_rate %v is not a positive number", m.sampleRate)
	}
	if len(f.Captures) == 0 {
		return m, nil
	}
	c := f.Captures[0]
	if !finite(c.Frequency) {
		return nil, errors.New("captures[0] core:frequency is not a number")
	}
	if c.HeaderBytes < 0 {
		return nil, fmt.Errorf("captures[0] core:header_bytes %d is negative", c.HeaderBytes)
	}
	m.centreHz, m.offset = c.Frequency, c.HeaderBytes
	if c.Datetime != "" {
		t, err := time.Parse(time.RFC3339Nano, c.Datetime)
		if err != nil {
			return nil, fmt.Errorf("captures[0] core:datetime %q is not an ISO 8601 UTC time", c.Datetime)
		}
		m.start = t.UTC()
	}
	return m, nil
}

// format maps the SigMF datatype to a Format.
func (m *sigmfMeta) format() (Format, error) {
	switch m.datatype {
	case "cf32_le", "cf32":
		return FormatCF32, nil
	case "ci16_le", "ci16":
		return FormatCI16, nil
	}
	return "", fmt.Errorf("sigmf sidecar %s: core:datatype %q is not supported (cf32_le, ci16_le)",
		m.path, m.datatype)
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
