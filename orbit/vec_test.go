package orbit

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestVec3(t *testing.T) {
	t.Parallel()
	a, b := Vec3{1, 2, 3}, Vec3{-4, 5, 0.5}
	assert.Equal(t, Vec3{-3, 7, 3.5}, a.Add(b))
	assert.Equal(t, Vec3{5, -3, 2.5}, a.Sub(b))
	assert.Equal(t, Vec3{2, 4, 6}, a.Scale(2))
	assert.Equal(t, 7.5, a.Dot(b))
	c := a.Cross(b)
	assert.Equal(t, Vec3{2*0.5 - 3*5, 3*-4 - 1*0.5, 1*5 - 2*-4}, c)
	assert.Zero(t, c.Dot(a))
	assert.Zero(t, c.Dot(b))
	assert.Equal(t, 5.0, Vec3{3, 4, 0}.Norm())
}
