package api

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits of a heartbeat (POST /api/satellites/{id}/heartbeat). The backend refuses a heartbeat
// over them with 400, so the satellite trims its report to fit before sending it.
const (
	// MaxHeartbeatProcesses is the most entries of Heartbeat.Processes, in processes. A
	// station with more live and recently finished processes reports the live ones first, then
	// the most recently finished.
	MaxHeartbeatProcesses = 256
	// MaxCgroupLimitsLen is the longest Heartbeat.CgroupLimits, in characters (Unicode code
	// points, after trimming surrounding spaces). It is one line: control characters, line
	// breaks included, are refused.
	MaxCgroupLimitsLen = 200
)

// FitLine makes s a single line of at most limit characters (limit >= 1), as
// Heartbeat.CgroupLimits must be: its lines (a joined error's) are joined with "; ", other
// control characters and runs of spaces become one space, invalid UTF-8 becomes U+FFFD, and a
// longer text is cut and ends with "…".
func FitLine(s string, limit int) string {
	var parts []string
	for _, line := range strings.FieldsFunc(strings.ToValidUTF8(s, "\uFFFD"), isLineBreak) {
		if words := strings.FieldsFunc(line, isBlank); len(words) > 0 {
			parts = append(parts, strings.Join(words, " "))
		}
	}
	out := strings.Join(parts, "; ")
	if utf8.RuneCountInString(out) <= limit {
		return out
	}
	return strings.TrimSpace(string([]rune(out)[:max(limit-1, 0)])) + "…"
}

func isLineBreak(r rune) bool { return r == '\n' || r == '\r' }
func isBlank(r rune) bool     { return unicode.IsControl(r) || unicode.IsSpace(r) }
