//go:build !race

package planner_test

// catalogStride: every object of the catalog is compared (see race_test.go).
const catalogStride = 1
