package rotator

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// The subset of Hamlib's network protocol used here is the "extended response" form: a command
// prefixed with '+' gets a reply of the form
//
//	set_pos: 100 45          echo of the long command name and its arguments
//	Azimuth: 1.81            zero or more "Key: value" lines (get commands)
//	RPRT 0                   the result: 0 or a negative rig_errcode_e
//
// every line ending in '\n'. The RPRT line makes every reply self-delimiting and every error
// explicit, which the default protocol is not (a set command's success is a bare "RPRT 0" but a
// get command's is its values alone).

const (
	// maxLineBytes bounds one reply line; dump_caps lines are well under 200 bytes.
	maxLineBytes = 4096
	// maxReplyLines bounds a whole reply; rotctld's dump_caps is about 90 lines.
	maxReplyLines = 2000
)

// field is one "Key: value" line of a reply. A line without ": " is kept whole in Value with an
// empty Key (dump_state's bare numbers, set_mode ?'s list of modes).
type field struct {
	Key, Value string
}

// reply is one parsed extended-protocol reply.
type reply struct {
	// Command is the echoed long command name, e.g. "get_pos".
	Command string
	// Echo is the rest of the echo line (the arguments as the daemon read them).
	Echo   string
	Fields []field
	// Code is the RPRT value: 0 for success, a negative Hamlib error code otherwise.
	Code int
}

// value returns the value of the first field named key.
func (r reply) value(key string) (string, bool) {
	for _, f := range r.Fields {
		if f.Key == key {
			return f.Value, true
		}
	}
	return "", false
}

// float returns the field named key as a float64, with an ErrProtocol error naming the field.
func (r reply) float(key string) (float64, error) {
	s, ok := r.value(key)
	if !ok {
		return 0, fmt.Errorf("%s reply has no %q line: %w", r.Command, key, ErrProtocol)
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return 0, fmt.Errorf("%s reply %q=%q is not a number: %w", r.Command, key, s, ErrProtocol)
	}
	return v, nil
}

// err returns nil for RPRT 0 and a *HamlibError otherwise.
func (r reply) err() error {
	if r.Code == 0 {
		return nil
	}
	return &HamlibError{Code: r.Code, Command: r.Command}
}

// readReply reads one extended reply to the command named want from br. It fails with
// ErrProtocol if the echo names another command, a line is too long or the RPRT line is not a
// number, and returns the reader's error (io.EOF, a timeout) if the reply stops before its RPRT.
func readReply(br *bufio.Reader, want string) (reply, error) {
	first, err := readLine(br)
	if err != nil {
		return reply{}, err
	}
	name, echo, ok := strings.Cut(first, ":")
	if !ok || name != want {
		if code, isRPRT := parseRPRT(first); isRPRT {
			// Some daemons answer an unparsable command with a bare RPRT; keep its code.
			return reply{Command: want, Code: code}, nil
		}
		return reply{}, fmt.Errorf("reply to %s starts with %s: %w", want, truncate(first), ErrProtocol)
	}
	r := reply{Command: name, Echo: strings.TrimSpace(echo)}
	for range maxReplyLines {
		line, err := readLine(br)
		if err != nil {
			return reply{}, err
		}
		if code, isRPRT := parseRPRT(line); isRPRT {
			r.Code = code
			return r, nil
		}
		if strings.HasPrefix(line, "RPRT") {
			return reply{}, fmt.Errorf("%s: bad result line %s: %w", want, truncate(line), ErrProtocol)
		}
		r.Fields = append(r.Fields, splitField(line))
	}
	return reply{}, fmt.Errorf("%s: reply longer than %d lines: %w", want, maxReplyLines, ErrProtocol)
}

// readLine reads one '\n'-terminated line without its line ending.
func readLine(br *bufio.Reader) (string, error) {
	b, err := br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		return "", fmt.Errorf("reply line longer than %d bytes: %w", br.Size(), ErrProtocol)
	}
	if err != nil {
		if errors.Is(err, io.EOF) && len(b) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return "", err
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// parseRPRT recognises "RPRT n" and returns n. A positive n is not a Hamlib result and is
// refused, so a garbled line never reads as success.
func parseRPRT(line string) (int, bool) {
	rest, ok := strings.CutPrefix(line, "RPRT ")
	if !ok {
		return 0, false
	}
	code, err := strconv.Atoi(strings.TrimSpace(rest))
	if err != nil || code > 0 || code < -1000 {
		return 0, false
	}
	return code, true
}

func splitField(line string) field {
	k, v, ok := strings.Cut(line, ":")
	if !ok {
		return field{Value: strings.TrimSpace(line)}
	}
	return field{Key: strings.TrimSpace(k), Value: strings.TrimSpace(v)}
}

// truncate shortens s for error messages, so garbage from the network never floods a log.
func truncate(s string) string {
	const n = 60
	if len(s) <= n {
		return strconv.Quote(s)
	}
	return strconv.Quote(s[:n]) + "..."
}
