package registry

import (
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"
	"golang.org/x/sync/singleflight"
)

// microcache keeps answers to public reads for a short time, and lets concurrent misses of one
// key share a single fill: a published page then costs about what a static file does, and a
// change shows within the TTL (far below the pages' Cache-Control max-age). Errors that keep
// pass are cached too, so that requests for pages that do not exist cannot bypass it.
type microcache[V any] struct {
	lru    *expirable.LRU[string, cached[V]]
	flight singleflight.Group
	keep   func(error) bool
}

type cached[V any] struct {
	v   V
	err error
}

func newMicrocache[V any](size int, ttl time.Duration, keep func(error) bool) *microcache[V] {
	return &microcache[V]{lru: expirable.NewLRU[string, cached[V]](size, nil, ttl), keep: keep}
}

// get returns the cached answer for key, or fills it.
func (c *microcache[V]) get(key string, fill func() (V, error)) (V, error) {
	if r, ok := c.lru.Get(key); ok {
		return r.v, r.err
	}
	r, _, _ := c.flight.Do(key, func() (any, error) {
		v, err := fill()
		r := cached[V]{v, err}
		if err == nil || c.keep(err) {
			c.lru.Add(key, r)
		}
		return r, nil
	})
	return r.(cached[V]).v, r.(cached[V]).err
}
