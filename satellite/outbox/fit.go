package outbox

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"

	"github.com/talos-gs/talos/backend/api"
)

// truncatedMarker ends a message that was cut to api.MaxEventMessageBytes.
const truncatedMarker = " …[truncated]"

// dataHeadBytes is how much of an oversized data object is kept, as a string, in its
// replacement (before JSON escaping, which may make it longer; see truncateData).
const dataHeadBytes = 8 << 10

// truncatedData replaces a data object over api.MaxEventDataBytes. Head is the start of the
// original JSON text, so a reader still sees what it was about.
type truncatedData struct {
	Truncated     bool   `json:"truncated"`
	OriginalBytes int    `json:"original_bytes"`
	Head          string `json:"head"`
}

// fit makes ev acceptable to the backend's per-event size limits (backend/api/satellites.go):
// a message over api.MaxEventMessageBytes is cut and marked, and data over api.MaxEventDataBytes
// is replaced by a truncatedData object. Cutting keeps the event (its type, time and severity
// are worth more than nothing), where refusing it would lose all of it. It returns what it cut,
// for the log; "" when nothing was.
func fit(ev *api.Event) (string, error) {
	var cut string
	// The backend measures the decoded message, in which every invalid UTF-8 byte has become
	// U+FFFD (3 bytes): measure the same string.
	msg := validUTF8(ev.Message)
	if len(msg) > api.MaxEventMessageBytes {
		cut = fmt.Sprintf("message of %d bytes cut to %d", len(msg), api.MaxEventMessageBytes)
		msg = cutRunes(msg, api.MaxEventMessageBytes-len(truncatedMarker)) + truncatedMarker
	}
	ev.Message = msg
	if len(ev.Data) == 0 {
		return cut, nil
	}
	// The backend measures data as it travels: compacted and HTML-escaped, as json.Marshal writes it.
	wire, err := json.Marshal(ev.Data)
	if err != nil {
		return cut, fmt.Errorf("data is not valid JSON: %w", err)
	}
	if len(wire) <= api.MaxEventDataBytes {
		return cut, nil
	}
	ev.Data, err = truncateData(wire)
	if err != nil {
		return cut, err
	}
	if cut != "" {
		cut += "; "
	}
	return cut + fmt.Sprintf("data of %d bytes replaced by a truncated copy", len(wire)), nil
}

// truncateData builds the replacement of an oversized data object. Escaping can make the head
// up to six times longer, so it is halved until the whole fits; the loop ends because an empty
// head fits.
func truncateData(wire []byte) (json.RawMessage, error) {
	head := cutRunes(string(wire), dataHeadBytes)
	for {
		raw, err := json.Marshal(truncatedData{Truncated: true, OriginalBytes: len(wire), Head: head})
		if err != nil {
			return nil, fmt.Errorf("encode truncated data: %w", err)
		}
		if len(raw) <= api.MaxEventDataBytes || head == "" {
			return raw, nil
		}
		head = cutRunes(head, len(head)/2)
	}
}

// validUTF8 replaces every invalid byte with U+FFFD, as encoding/json does on the wire.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	out := make([]rune, 0, len(s))
	for _, r := range s { // an invalid byte comes out as utf8.RuneError, one byte at a time
		out = append(out, r)
	}
	return string(out)
}

// cutRunes returns the longest prefix of s of at most n bytes that does not split a rune.
func cutRunes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:max(n, 0)]
}
