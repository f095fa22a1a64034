package orbit

import (
	"errors"
	"fmt"
)

// Sentinel errors of the propagator, one per error code of the reference implementation
// (Vallado et al. 2006). Test with errors.Is; a *PropagationError carries the code and the
// minutes since epoch at which it happened.
var (
	// ErrMeanElements (code 1): the mean eccentricity left the range −0.001 ≤ e < 1, or the
	// elements at epoch are not those of a bound orbit.
	ErrMeanElements = errors.New("mean elements out of range (eccentricity not in [-0.001, 1))")
	// ErrMeanMotion (code 2): the mean motion dropped to zero or below.
	ErrMeanMotion = errors.New("mean motion not positive")
	// ErrPerturbedEccentricity (code 3): the eccentricity after lunar-solar periodics left [0, 1].
	ErrPerturbedEccentricity = errors.New("perturbed eccentricity out of range [0, 1]")
	// ErrSemiLatusRectum (code 4): the semi-latus rectum became negative.
	ErrSemiLatusRectum = errors.New("semi-latus rectum negative")
	// ErrSubOrbital (code 5): the epoch elements describe a sub-orbital trajectory. The 2006
	// algorithm no longer raises it; it exists so that every code has a value.
	ErrSubOrbital = errors.New("epoch elements are sub-orbital")
	// ErrDecayed (code 6): the orbit radius fell below one Earth radius: the spacecraft has
	// re-entered.
	ErrDecayed = errors.New("spacecraft has decayed (radius below one Earth radius)")
)

// ErrNonFinite is returned, without a Vallado code, if a propagation ever produced a NaN or an
// infinity instead of one of the coded errors: a guard so that no caller receives a NaN position
// as if it were valid. No element set is known to trigger it.
var ErrNonFinite = errors.New("propagation produced a non-finite state")

// codeErrors maps the reference error codes 1–6 to their sentinels.
var codeErrors = [...]error{
	1: ErrMeanElements,
	2: ErrMeanMotion,
	3: ErrPerturbedEccentricity,
	4: ErrSemiLatusRectum,
	5: ErrSubOrbital,
	6: ErrDecayed,
}

// PropagationError reports a failed initialisation or propagation with the error code of the
// reference implementation, so results can be compared with other SGP4 programs.
type PropagationError struct {
	// Code is Vallado's error code, 1–6.
	Code int
	// Minutes is the time since epoch, in minutes, at which the error occurred.
	Minutes float64
	// Value is the offending quantity (eccentricity, semi-latus rectum in Earth radii, radius in
	// Earth radii, ...), for the message.
	Value float64
}

// Error implements error.
func (e *PropagationError) Error() string {
	return fmt.Sprintf("sgp4 error %d at %.6f min since epoch: %v (value %g)",
		e.Code, e.Minutes, e.sentinel(), e.Value)
}

// Unwrap returns the sentinel error of the code, for errors.Is.
func (e *PropagationError) Unwrap() error { return e.sentinel() }

func (e *PropagationError) sentinel() error {
	if e.Code < 1 || e.Code >= len(codeErrors) {
		return errors.New("unknown sgp4 error")
	}
	return codeErrors[e.Code]
}

// ErrorCode returns Vallado's error code (1–6) carried by err, or 0 when err is nil or carries
// none.
func ErrorCode(err error) int {
	var pe *PropagationError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return 0
}
