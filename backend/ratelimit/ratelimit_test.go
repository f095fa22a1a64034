package ratelimit

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestLimiter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := New(10*time.Second, 3, 100, func() time.Time { return now })
	for i := range 3 {
		ok, _ := l.Allow("a")
		assert.True(t, ok, "burst event %d", i)
	}
	ok, wait := l.Allow("a")
	assert.False(t, ok)
	assert.Equal(t, 10*time.Second, wait)
	assert.Equal(t, 10, RetryAfterSeconds(wait))
	ok, _ = l.Allow("b")
	assert.True(t, ok, "keys are independent")

	now = now.Add(10 * time.Second)
	ok, _ = l.Allow("a")
	assert.True(t, ok, "a token came back after 10 s")
	ok, _ = l.Allow("a")
	assert.False(t, ok)
}

func TestLimiterIsBounded(t *testing.T) {
	t.Parallel()
	l := New(time.Minute, 1, 10, nil)
	for i := range 1000 {
		l.Allow(fmt.Sprint(i))
	}
	assert.Equal(t, 10, l.buckets.Len())
}
