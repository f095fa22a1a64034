//go:build race

package orbit

// catalogStride thins the catalog-wide dense scan under the race detector, which makes the
// propagator about 20 times slower; the full scan runs in ordinary test runs.
const catalogStride = 10
