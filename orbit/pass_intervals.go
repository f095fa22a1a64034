package orbit

import (
	"math"
	"time"
)

// passes turns the recorded crossings into visibility intervals and each interval into a Pass.
func (s *passSearch) passes() []Pass {
	var out []Pass
	start, open, atStart := s.first, s.first.visible(), s.first.visible()
	for _, c := range s.crossings {
		switch {
		case c.rise && !open:
			start, open, atStart = c.at, true, false
		case !c.rise && open:
			out = append(out, s.pass(start, c.at, atStart, false))
			open = false
		}
	}
	if open {
		out = append(out, s.pass(start, s.last, atStart, true))
	}
	return out
}

// pass describes the visibility interval [aos, los]; atStart and atEnd say it is cut by the
// window. TCA is the highest elevation maximum inside
// it; if there is none, the elevation is monotone over the interval and peaks at an end.
func (s *passSearch) pass(aos, los passSample, atStart, atEnd bool) Pass {
	tca := aos
	if los.el > aos.el {
		tca = los
	}
	for _, m := range s.maxima {
		if m.t >= aos.t && m.t <= los.t && m.el >= tca.el {
			tca = m
		}
	}
	p := Pass{
		AOS:               s.time(aos.t),
		TCA:               s.time(tca.t),
		LOS:               s.time(los.t),
		MaxElevationDeg:   tca.el,
		AOSAzimuthDeg:     aos.az,
		LOSAzimuthDeg:     los.az,
		InProgressAtStart: atStart,
		InProgressAtEnd:   atEnd,
	}
	p.AlwaysVisible = p.InProgressAtStart && p.InProgressAtEnd
	return p
}

func (s *passSearch) time(t float64) time.Time {
	return s.from.Add(time.Duration(math.Round(t * 1e9)))
}
