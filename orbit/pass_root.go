package orbit

import "math"

// brentRoot finds a zero of f in [a, b], where fa = f(a) and fb = f(b) have opposite signs (or
// one is zero), to within about tol (same unit as a and b). It is Brent's method (R. P. Brent,
// "Algorithms for Minimization without Derivatives", 1973, ch. 4): inverse quadratic or secant
// steps when they make progress, bisection otherwise, so it never needs more than about
// log2((b−a)/tol) evaluations beyond the fast steps. f may fail (a propagation error); the error
// is returned as is.
func brentRoot(f func(float64) (float64, error), a, b, fa, fb, tol float64) (float64, error) {
	if fa == 0 {
		return a, nil
	}
	if fb == 0 {
		return b, nil
	}
	c, fc := a, fa
	d := b - a
	e := d
	for range 200 {
		if (fb > 0) == (fc > 0) {
			// Keep the root between b and c.
			c, fc = a, fa
			d = b - a
			e = d
		}
		if math.Abs(fc) < math.Abs(fb) {
			a, b, c = b, c, b
			fa, fb, fc = fb, fc, fb
		}
		tol1 := 2*1e-16*math.Abs(b) + tol/2
		m := (c - b) / 2
		if math.Abs(m) <= tol1 || fb == 0 {
			return b, nil
		}
		d, e = brentStep(a, b, c, fa, fb, fc, d, e, m, tol1)
		a, fa = b, fb
		if math.Abs(d) > tol1 {
			b += d
		} else {
			b += math.Copysign(tol1, m)
		}
		var err error
		if fb, err = f(b); err != nil {
			return 0, err
		}
	}
	return b, nil
}

// brentStep chooses the next correction d (and the previous one, e) of Brent's method:
// interpolation if it lands well inside the bracket and shrinks fast enough, else bisection.
func brentStep(a, b, c, fa, fb, fc, d, e, m, tol1 float64) (float64, float64) {
	if math.Abs(e) < tol1 || math.Abs(fa) <= math.Abs(fb) {
		return m, m
	}
	var p, q float64
	s := fb / fa
	if a == c {
		// Secant step.
		p = 2 * m * s
		q = 1 - s
	} else {
		// Inverse quadratic interpolation through (a, fa), (b, fb), (c, fc).
		qq := fa / fc
		r := fb / fc
		p = s * (2*m*qq*(qq-r) - (b-a)*(r-1))
		q = (qq - 1) * (r - 1) * (s - 1)
	}
	if p > 0 {
		q = -q
	} else {
		p = -p
	}
	if 2*p < math.Min(3*m*q-math.Abs(tol1*q), math.Abs(e*q)) {
		return p / q, d
	}
	return m, m
}

// FindRoot finds a zero of f in [a, b], where fa = f(a) and fb = f(b) have opposite signs (or
// one is zero), to within about tol, by Brent's method: the root finder of FindPasses, for
// callers that search passes on their own samples. An error from f is returned as is.
func FindRoot(f func(float64) (float64, error), a, b, fa, fb, tol float64) (float64, error) {
	return brentRoot(f, a, b, fa, fb, tol)
}
