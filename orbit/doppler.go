package orbit

// SpeedOfLightKmS is the speed of light in vacuum, km/s (exact by the definition of the metre).
const SpeedOfLightKmS = 299792.458

// DownlinkFrequency returns the frequency (Hz) a station receives when the spacecraft transmits
// at fHz (Hz) and the range changes at rangeRateKmS (km/s, positive receding, as in
// Look.RangeRateKmS): f·(1 − ṙ/c). The first-order formula differs from the relativistic one
// by about (ṙ/c)²/2 ≈ 4e-10 of f in LEO (0.2 Hz at 437 MHz, 4 Hz at 10 GHz).
func DownlinkFrequency(fHz, rangeRateKmS float64) float64 {
	return fHz * (1 - rangeRateKmS/SpeedOfLightKmS)
}

// UplinkFrequency returns the frequency (Hz) a station must transmit so that the spacecraft
// receives fHz (Hz), for the range rate rangeRateKmS (km/s, positive receding): the inverse of
// DownlinkFrequency, f/(1 − ṙ/c).
func UplinkFrequency(fHz, rangeRateKmS float64) float64 {
	return fHz / (1 - rangeRateKmS/SpeedOfLightKmS)
}

// DopplerShift returns the downlink shift (Hz) received minus transmitted at fHz (Hz) for the
// range rate rangeRateKmS (km/s, positive receding): −f·ṙ/c.
func DopplerShift(fHz, rangeRateKmS float64) float64 {
	return -fHz * rangeRateKmS / SpeedOfLightKmS
}
