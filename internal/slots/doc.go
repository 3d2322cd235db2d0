// SPDX-License-Identifier: Apache-2.0

// Package slots bounds how many requests do a piece of scarce work (an
// NSM request, say) at once, refusing the rest at once instead of queueing
// them: a flood from an untrusted peer gets fast refusals, never an
// unbounded queue of work.
//
//	s := slots.New(4)
//	if !s.TryAcquire() {
//		// refuse: 503 busy with Retry-After
//	}
//	defer s.Release()
package slots
