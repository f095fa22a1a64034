//go:build race

package planner_test

// catalogStride thins the catalog in the comparison with orbit.FindPasses under the race
// detector, which makes propagation about 20 times slower; ordinary runs compare every object.
const catalogStride = 8
