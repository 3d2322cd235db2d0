// SPDX-License-Identifier: Apache-2.0

package slots

// Slots is a fixed number of slots taken without waiting. The zero value
// is not usable: make one with [New]. It is safe for concurrent use.
type Slots struct {
	c chan struct{}
}

// New returns n slots; n below 1 is taken as 1.
func New(n int) *Slots {
	return &Slots{c: make(chan struct{}, max(n, 1))}
}

// TryAcquire takes a slot and reports true, or reports false at once when
// every slot is taken. A true answer must be paired with one [Slots.Release].
func (s *Slots) TryAcquire() bool {
	select {
	case s.c <- struct{}{}:
		return true
	default:
		return false
	}
}

// Release frees a slot taken by [Slots.TryAcquire].
func (s *Slots) Release() { <-s.c }

// Cap returns the number of slots.
func (s *Slots) Cap() int { return cap(s.c) }
