package rotator

import (
	"context"
	"errors"
	"fmt"
)

// ErrDisconnected means the daemon cannot be reached: the dial failed, the connection broke or
// a reply did not arrive before the deadline. The client has dropped the connection; the next
// call or the Run loop reconnects.
var ErrDisconnected = errors.New("hamlib daemon not connected")

// ErrProtocol means the daemon sent something that is not an extended-protocol reply to the
// command (garbage, a reply to another command, an over-long line). The connection is dropped
// because the request/reply stream can no longer be trusted.
var ErrProtocol = errors.New("malformed hamlib reply")

// HamlibError is a negative "RPRT n" from rotctld or rigctld: the daemon understood the command
// and the device (or Hamlib) refused or failed it. Code is Hamlib's negative rig_errcode_e.
type HamlibError struct {
	// Code is the value of the RPRT line, e.g. -1 for an invalid parameter.
	Code int
	// Command is the long Hamlib command name, e.g. "set_pos"; empty in the sentinel values.
	Command string
}

// Sentinel Hamlib errors, for errors.Is: errors.Is(err, rotator.ErrInvalidParameter) matches any
// HamlibError with code -1, whatever its command.
var (
	ErrInvalidParameter = &HamlibError{Code: -1}
	ErrInvalidConfig    = &HamlibError{Code: -2}
	ErrNotImplemented   = &HamlibError{Code: -4}
	ErrDeviceTimeout    = &HamlibError{Code: -5}
	ErrDeviceIO         = &HamlibError{Code: -6}
	ErrHamlibInternal   = &HamlibError{Code: -7}
	ErrDeviceProtocol   = &HamlibError{Code: -8}
	ErrRejected         = &HamlibError{Code: -9}
	ErrNotAvailable     = &HamlibError{Code: -11}
	ErrVFONotTargetable = &HamlibError{Code: -12}
	ErrBusError         = &HamlibError{Code: -13}
	ErrBusCollision     = &HamlibError{Code: -14}
	ErrInvalidVFO       = &HamlibError{Code: -16}
	ErrOutOfDomain      = &HamlibError{Code: -17}
	ErrPoweredOff       = &HamlibError{Code: -20}
)

// hamlibMeanings are the texts of Hamlib's rig_errcode_e (include/hamlib/rig.h, rigerror()),
// indexed by the positive code.
var hamlibMeanings = map[int]string{
	1:  "invalid parameter",
	2:  "invalid configuration",
	3:  "memory shortage",
	4:  "function not implemented",
	5:  "communication with the device timed out",
	6:  "IO error",
	7:  "internal Hamlib error",
	8:  "protocol error with the device",
	9:  "command rejected by the device",
	10: "command performed, but argument truncated",
	11: "function not available",
	12: "VFO not targetable",
	13: "communication bus error",
	14: "communication bus collision",
	15: "NULL handle or invalid pointer parameter",
	16: "invalid VFO",
	17: "argument out of domain of function",
	18: "function deprecated",
	19: "security error",
	20: "device not powered on",
}

// Meaning returns Hamlib's description of the code.
func (e *HamlibError) Meaning() string {
	if m, ok := hamlibMeanings[-e.Code]; ok {
		return m
	}
	return "unknown Hamlib error"
}

func (e *HamlibError) Error() string {
	if e.Command == "" {
		return fmt.Sprintf("hamlib error %d (%s)", e.Code, e.Meaning())
	}
	return fmt.Sprintf("%s: hamlib error %d (%s)", e.Command, e.Code, e.Meaning())
}

// Is matches another HamlibError with the same code, so the sentinels work with errors.Is.
func (e *HamlibError) Is(target error) bool {
	var t *HamlibError
	return errors.As(target, &t) && t.Code == e.Code
}

// IsFault reports whether err means the rotator or radio is unreachable rather than that one
// command was refused: the daemon is gone (ErrDisconnected), or the daemon is up but cannot talk
// to the device (timeout, IO, bus errors, powered off). This is the one place that decides what a
// fault is; the Monitor and the tracker use it.
//
// A call cancelled by its caller (shutdown) is never a fault, even though the connection it
// interrupted is dropped: it says nothing about the device.
func IsFault(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	if errors.Is(err, ErrDisconnected) || errors.Is(err, ErrProtocol) {
		return true
	}
	for _, s := range []error{ErrDeviceTimeout, ErrDeviceIO, ErrBusError, ErrBusCollision, ErrPoweredOff} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}
