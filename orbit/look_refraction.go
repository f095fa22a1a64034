package orbit

import (
	"fmt"
	"math"
)

// Atmosphere describes the air at the observer for the refraction correction.
type Atmosphere struct {
	// PressureHPa is the air pressure at the observer, hPa (= mbar), in (0, 1200].
	PressureHPa float64
	// TemperatureC is the air temperature at the observer, °C, in [−90, 60].
	TemperatureC float64
}

// StandardAtmosphere is the atmosphere for which the refraction formula's coefficients were
// fitted: 1010 hPa and 10 °C.
var StandardAtmosphere = Atmosphere{PressureHPa: 1010, TemperatureC: 10}

func (a Atmosphere) validate() error {
	if math.IsNaN(a.PressureHPa) || a.PressureHPa <= 0 || a.PressureHPa > 1200 {
		return fmt.Errorf("pressure %g hPa is outside (0, 1200]", a.PressureHPa)
	}
	if math.IsNaN(a.TemperatureC) || a.TemperatureC < -90 || a.TemperatureC > 60 {
		return fmt.Errorf("temperature %g °C is outside [−90, 60]", a.TemperatureC)
	}
	return nil
}

// Refraction returns how much higher (degrees) a spacecraft at geometric elevation elDeg
// (degrees) appears. It is Sæmundsson's formula (Sky & Telescope 72, 1986; Meeus, "Astronomical
// Algorithms", eq. 16.4), which takes the true elevation h:
//
//	R = 1.02′ / tan(h + 10.3°/(h + 5.11°)) · (P/1010 hPa) · (283 K/(273 K + T))
//
// It is the optical refraction of a standard atmosphere, accurate to about 0.1′ above the
// horizon (it is the inverse of Bennett's formula to that level). Radio refraction at
// VHF–X band is larger and depends on humidity; treat this as a first-order correction.
// Below −1° the formula loses meaning; R is held at its −1° value there so the apparent
// elevation stays continuous and increasing, which the pass search relies on. At the zenith,
// where the formula dips a hair below zero, R is 0.
func (a Atmosphere) Refraction(elDeg float64) float64 {
	h := math.Max(elDeg, -1)
	arcmin := 1.02 / math.Tan((h+10.3/(h+5.11))*geoRadPerDeg)
	r := arcmin / 60 * (a.PressureHPa / 1010) * (283 / (273 + a.TemperatureC))
	return math.Max(r, 0)
}
