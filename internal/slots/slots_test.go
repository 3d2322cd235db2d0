// SPDX-License-Identifier: Apache-2.0

package slots

import (
	"sync"
	"sync/atomic"
	"testing"
)

func TestSlots(t *testing.T) {
	s := New(2)
	if s.Cap() != 2 {
		t.Fatalf("Cap = %d", s.Cap())
	}
	for i := range 2 {
		if !s.TryAcquire() {
			t.Fatalf("slot %d of 2 not taken", i+1)
		}
	}
	if s.TryAcquire() {
		t.Fatal("third slot taken out of two")
	}
	s.Release()
	if !s.TryAcquire() {
		t.Fatal("released slot not taken again")
	}
	if New(0).Cap() != 1 || New(-3).Cap() != 1 {
		t.Fatal("n below 1 is not 1 slot")
	}
}

// However many goroutines try at once, no more than Cap hold a slot.
func TestSlotsConcurrent(t *testing.T) {
	s := New(3)
	var now, most atomic.Int32
	var wg sync.WaitGroup
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				if !s.TryAcquire() {
					continue
				}
				n := now.Add(1)
				for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
				}
				now.Add(-1)
				s.Release()
			}
		}()
	}
	wg.Wait()
	if m := most.Load(); m > 3 || m < 1 {
		t.Fatalf("%d held at once, want 1 to 3", m)
	}
}
