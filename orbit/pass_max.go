package orbit

const (
	// maxPolishMarginDeg: maxima up to this far below the lowest threshold are polished too, so
	// a pass whose peak the rate root puts a hair low is not lost.
	maxPolishMarginDeg = 0.1
	// goldenRatio is (√5 − 1)/2, the shrink factor of a golden-section search.
	goldenRatio = 0.6180339887498949
)

// polishMaximum refines an elevation maximum m, found as the root of the analytic elevation
// rate, by a golden-section search on the elevation itself over [a, b]: the coarse step that
// brackets the root and one step either side, over which the elevation is unimodal (its
// extrema are half an orbit apart, see decision 0006). The rate comes from the propagator's velocity,
// which SGP4/SDP4 computes from its own series rather than as the exact derivative of its
// position (the deep-space lunar-solar terms, for one, have no velocity part); on the flat
// maximum of a geostationary spacecraft that moves the root by up to ten minutes, though the
// height by only 1e-5°. The elevation is what a pass is judged by, so the maximum is taken on it.
func (s *passSearch) polishMaximum(m passSample, a, b float64) (passSample, error) {
	tol := PassTimeTolerance.Seconds()
	c, d := b-goldenRatio*(b-a), a+goldenRatio*(b-a)
	pc, err := s.at(c)
	if err != nil {
		return passSample{}, err
	}
	pd, err := s.at(d)
	if err != nil {
		return passSample{}, err
	}
	for b-a > tol {
		if pc.el > pd.el {
			b, d, pd = d, c, pc
			c = b - goldenRatio*(b-a)
			if pc, err = s.at(c); err != nil {
				return passSample{}, err
			}
		} else {
			a, c, pc = c, d, pd
			d = a + goldenRatio*(b-a)
			if pd, err = s.at(d); err != nil {
				return passSample{}, err
			}
		}
	}
	best := pc
	if pd.el > best.el {
		best = pd
	}
	if m.el > best.el {
		best = m
	}
	return best, nil
}
