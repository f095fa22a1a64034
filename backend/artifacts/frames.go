package artifacts

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/talos-gs/talos/backend/api"
	"github.com/talos-gs/talos/backend/store"
)

// Frames index limits.
const (
	// MaxFramesPerArtifact bounds the frames indexed from one file; later lines are skipped.
	MaxFramesPerArtifact = 1_000_000
	// MaxFrameFieldsBytes bounds a frame's decoded fields, as compact JSON.
	MaxFrameFieldsBytes = 16 << 10
	// maxFrameLine bounds one line of a frames file.
	maxFrameLine = 2*api.MaxFrameBytes + MaxFrameFieldsBytes + 4096
)

// frameLine is one line of a frames artifact (api.ArtifactFrames).
type frameLine struct {
	Time   *time.Time      `json:"time"`
	Hex    *string         `json:"hex"`
	Base64 *string         `json:"base64"`
	Fields json.RawMessage `json:"fields"`
}

// FramesResult is what indexing a frames file found.
type FramesResult struct {
	Frames []store.ArtifactFrame
	// Skipped counts lines that are not valid frames (blank lines are not counted); FirstError
	// says what was wrong with the first of them, naming its line.
	Skipped    int
	FirstError string
}

// ParseFrames reads a frames file: JSON lines, each {"time", "hex" or "base64", "fields"?}.
// Invalid lines are skipped and counted, never fatal: one bad line from a decoder must not
// lose the pass's other frames.
func ParseFrames(r io.Reader) (FramesResult, error) {
	var res FramesResult
	br := bufio.NewReaderSize(r, 64<<10)
	for lineNo := 1; ; lineNo++ {
		line, err := readLine(br)
		if errors.Is(err, io.EOF) && line == nil {
			return res, nil
		}
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, errLineTooLong) {
			return res, fmt.Errorf("read frames: %w", err)
		}
		if errors.Is(err, errLineTooLong) {
			res.skip(lineNo, fmt.Sprintf("longer than %d bytes", maxFrameLine))
			continue
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		if len(res.Frames) >= MaxFramesPerArtifact {
			res.skip(lineNo, fmt.Sprintf("past the %d frames indexed per file", MaxFramesPerArtifact))
			continue
		}
		f, why := parseFrame(line)
		if why != "" {
			res.skip(lineNo, why)
			continue
		}
		f.Seq = lineNo - 1
		res.Frames = append(res.Frames, f)
	}
}

func (r *FramesResult) skip(line int, why string) {
	r.Skipped++
	if r.FirstError == "" {
		r.FirstError = fmt.Sprintf("line %d: %s", line, why)
	}
}

var errLineTooLong = errors.New("line too long")

// readLine reads one line; a line over maxFrameLine is read to its end and reported.
func readLine(br *bufio.Reader) ([]byte, error) {
	var buf []byte
	tooLong := false
	for {
		chunk, err := br.ReadSlice('\n')
		if !tooLong && len(buf)+len(chunk) > maxFrameLine {
			tooLong, buf = true, nil
		}
		if !tooLong {
			buf = append(buf, chunk...)
		}
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case tooLong && (err == nil || errors.Is(err, io.EOF)):
			return []byte{}, errLineTooLong
		case errors.Is(err, io.EOF) && len(buf) == 0:
			return nil, io.EOF
		case errors.Is(err, io.EOF):
			return buf, nil
		}
		return buf, err
	}
}

func parseFrame(line []byte) (store.ArtifactFrame, string) {
	var fl frameLine
	dec := json.NewDecoder(bytes.NewReader(line))
	if err := dec.Decode(&fl); err != nil {
		return store.ArtifactFrame{}, "not a JSON object with time, hex or base64, fields: " + err.Error()
	}
	if fl.Time == nil {
		return store.ArtifactFrame{}, "time is missing (RFC 3339)"
	}
	var data []byte
	var err error
	switch {
	case fl.Hex != nil && fl.Base64 != nil:
		return store.ArtifactFrame{}, "has both hex and base64"
	case fl.Hex != nil:
		data, err = hex.DecodeString(*fl.Hex)
	case fl.Base64 != nil:
		data, err = base64.StdEncoding.DecodeString(*fl.Base64)
	default:
		return store.ArtifactFrame{}, "has neither hex nor base64"
	}
	switch {
	case err != nil:
		return store.ArtifactFrame{}, "frame data: " + err.Error()
	case len(data) == 0 || len(data) > api.MaxFrameBytes:
		return store.ArtifactFrame{}, fmt.Sprintf("frame is %d bytes, 1 to %d allowed", len(data), api.MaxFrameBytes)
	}
	fields, why := compactFields(fl.Fields)
	if why != "" {
		return store.ArtifactFrame{}, why
	}
	return store.ArtifactFrame{Time: fl.Time.UTC().Truncate(time.Microsecond), Data: hex.EncodeToString(data), Fields: fields}, ""
}

func compactFields(raw json.RawMessage) (string, string) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", ""
	}
	var obj map[string]any
	if err := json.Unmarshal(raw, &obj); err != nil {
		return "", "fields must be a JSON object"
	}
	b, err := json.Marshal(obj)
	if err != nil {
		return "", "fields: " + err.Error()
	}
	if len(b) > MaxFrameFieldsBytes {
		return "", fmt.Sprintf("fields are %d bytes, at most %d", len(b), MaxFrameFieldsBytes)
	}
	return string(b), ""
}
