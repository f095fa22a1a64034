package rotator

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestHamlibErrorMapping(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code     int
		sentinel error
		meaning  string
		fault    bool
	}{
		{-1, ErrInvalidParameter, "invalid parameter", false},
		{-2, ErrInvalidConfig, "invalid configuration", false},
		{-4, ErrNotImplemented, "function not implemented", false},
		{-5, ErrDeviceTimeout, "communication with the device timed out", true},
		{-6, ErrDeviceIO, "IO error", true},
		{-7, ErrHamlibInternal, "internal Hamlib error", false},
		{-8, ErrDeviceProtocol, "protocol error with the device", false},
		{-9, ErrRejected, "command rejected by the device", false},
		{-11, ErrNotAvailable, "function not available", false},
		{-12, ErrVFONotTargetable, "VFO not targetable", false},
		{-13, ErrBusError, "communication bus error", true},
		{-14, ErrBusCollision, "communication bus collision", true},
		{-16, ErrInvalidVFO, "invalid VFO", false},
		{-17, ErrOutOfDomain, "argument out of domain of function", false},
		{-20, ErrPoweredOff, "device not powered on", true},
		{-99, nil, "unknown Hamlib error", false},
	}
	for _, tt := range tests {
		err := fmt.Errorf("rotctld %w", &HamlibError{Code: tt.code, Command: "set_pos"})
		assert.Contains(t, err.Error(), fmt.Sprintf("set_pos: hamlib error %d (%s)", tt.code, tt.meaning))
		if tt.sentinel != nil {
			assert.ErrorIs(t, err, tt.sentinel)
		}
		assert.NotErrorIs(t, err, ErrProtocol)
		assert.Equal(t, tt.fault, IsFault(err), "code %d", tt.code)
	}
	assert.NotErrorIs(t, &HamlibError{Code: -1}, ErrNotImplemented)
}

func TestIsFault(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  error
		want bool
	}{
		{nil, false},
		{fmt.Errorf("x: %w", ErrDisconnected), true},
		{fmt.Errorf("x: %w", ErrProtocol), true},
		{fmt.Errorf("x: %w: %w", ErrDisconnected, context.DeadlineExceeded), true},
		{fmt.Errorf("x: %w: %w", ErrDisconnected, context.Canceled), false},
		{ErrClosed, false},
		{errors.New("other"), false},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, IsFault(tt.err), "%v", tt.err)
	}
}
