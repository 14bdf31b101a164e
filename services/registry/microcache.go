package registry

import (
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"
	"golang.org/x/sync/singleflight"
)

// microcache keeps answers to public reads for a short time, and lets concurrent misses of one
// key share a single fill: a published page then costs about what a static file does, and a
// change shows within the TTL (far below the pages' Cache-Control max-age).
type microcache[V any] struct {
	lru    *expirable.LRU[string, V]
	flight singleflight.Group
}

func newMicrocache[V any](size int, ttl time.Duration) *microcache[V] {
	return &microcache[V]{lru: expirable.NewLRU[string, V](size, nil, ttl)}
}

// get returns the cached value of key, or fills it. Errors are not cached.
func (c *microcache[V]) get(key string, fill func() (V, error)) (V, error) {
	if v, ok := c.lru.Get(key); ok {
		return v, nil
	}
	v, err, _ := c.flight.Do(key, func() (any, error) {
		v, err := fill()
		if err == nil {
			c.lru.Add(key, v)
		}
		return v, err
	})
	if err != nil {
		var zero V
		return zero, err
	}
	return v.(V), nil
}
