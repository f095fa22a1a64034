// Package waterfall renders a recording into a PNG spectrogram (a "waterfall"): time runs down,
// frequency across, with a frequency axis, a time axis and a colour bar in dB.
//
// Inputs are complex baseband recordings (IQ: interleaved little-endian complex float32 or
// complex int16, raw or as a two-channel WAV) and audio (mono WAV, PCM 16-bit or IEEE float
// 32-bit). The file is read in one pass, one FFT frame at a time: memory depends on the size of
// the image, never on the size of the recording (see docs/waterfall.md and
// docs/decisions/0097-built-in-waterfall.md).
//
// The station renders a waterfall with RenderFile after a decoder that recorded IQ or audio exits
// without writing one of its own.
package waterfall
