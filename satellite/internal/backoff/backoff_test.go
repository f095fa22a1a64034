package backoff

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestCeilingGrowsToMaxAndResets(t *testing.T) {
	t.Parallel()
	b := New(func() float64 { return 0.999999 })
	want := []time.Duration{1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300}
	for i, w := range want {
		assert.Equal(t, w*time.Second, b.Ceiling(), "step %d", i)
		d := b.Next()
		assert.LessOrEqual(t, d, w*time.Second)
		assert.Greater(t, d, w*time.Second*99/100)
	}
	b.Reset()
	assert.Equal(t, time.Second, b.Ceiling())
	assert.Zero(t, b.Attempts())
}

func TestFullJitterUsesWholeRange(t *testing.T) {
	t.Parallel()
	tests := []struct {
		r    float64
		want time.Duration
	}{{0, 0}, {0.5, 500 * time.Millisecond}, {0.25, 250 * time.Millisecond}}
	for _, tc := range tests {
		b := New(func() float64 { return tc.r })
		assert.Equal(t, tc.want, b.Next())
	}
}

func TestDefaultRandStaysInRange(t *testing.T) {
	t.Parallel()
	b := &Backoff{Base: time.Second, Max: 4 * time.Second}
	for range 100 {
		d := b.Next()
		assert.GreaterOrEqual(t, d, time.Duration(0))
		assert.Less(t, d, 4*time.Second+1)
	}
}

func TestNextWithinLowersTheCapButKeepsCounting(t *testing.T) {
	t.Parallel()
	b := New(func() float64 { return 0.5 })
	assert.Equal(t, 500*time.Millisecond, b.NextWithin(time.Hour), "the step's own cap when the limit is higher")
	assert.Equal(t, 750*time.Millisecond, b.NextWithin(1500*time.Millisecond), "half of the limit when it binds")
	assert.Equal(t, 2, b.Attempts())
	assert.Equal(t, 2*time.Second, b.NextWithin(time.Hour), "growth resumes at the third step (4 s cap)")
	assert.Zero(t, b.NextWithin(-time.Second), "a negative limit waits nothing")
}
