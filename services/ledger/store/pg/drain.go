package pg

import (
	"slices"
	"sync"
)

// drain is a queue emptied by the goroutines its pushes start, at most limit at a time (the
// leaders): each takes what has accumulated, handles it, and takes again until nothing is left.
// Work that arrives while a leader is busy waits and goes in its next take: that is what groups
// appends into one transaction (a log's sequencer) and ready batches of many logs into one
// (the store's combiner).
type drain[T any] struct {
	mu      sync.Mutex
	items   []T
	running int
	limit   int
	// wake, if set, gets a token on every push, for a leader waiting for more work (takeMore).
	wake chan struct{}
}

// push queues xs, together and in order, and reports whether the caller must start a leader
// (then running counts it).
func (d *drain[T]) push(xs ...T) (lead bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.items = append(d.items, xs...)
	if d.wake != nil {
		select {
		case d.wake <- struct{}{}:
		default:
		}
	}
	if d.running < max(d.limit, 1) {
		d.running++
		return true
	}
	return false
}

// take removes the first size(items) items (at least one, when there are any) and returns them;
// when there are none it returns nil, and the leader calling it must stop.
func (d *drain[T]) take(size func(items []T) int) []T {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.items) == 0 {
		d.running--
		d.items = nil
		return nil
	}
	return d.cut(size)
}

// takeMore is take for a leader that has work of its own on its way: when nothing is waiting it
// returns nil and stays the leader.
func (d *drain[T]) takeMore(size func(items []T) int) []T {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.items) == 0 {
		return nil
	}
	return d.cut(size)
}

// cut removes and returns the first size(items) items, at least one; d.mu is held.
func (d *drain[T]) cut(size func(items []T) int) []T {
	n := min(max(size(d.items), 1), len(d.items))
	out := slices.Clone(d.items[:n])
	d.items = d.items[n:]
	return out
}

// len is the number of items waiting.
func (d *drain[T]) len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.items)
}
