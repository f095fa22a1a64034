//go:build !race

package orbit

// catalogStride: every object of the catalog is scanned (see pass_race_test.go).
const catalogStride = 1
