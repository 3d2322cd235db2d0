// SPDX-License-Identifier: Apache-2.0

package boot

import (
	"log/slog"
	"strings"
	"testing"
)

// TestLogForwarderMemoryBound is a parent that accepts the log connection
// and never reads (or never answers at all): the forwarder's queue fills
// and stays full for as long as the parent likes, so what the queue may
// hold is memory the parent takes from the enclave. Counted in lines
// (4096) of up to 16 KiB, it was 64 MiB, and 192 MiB when the application
// prints bytes that are not UTF-8 (each replaced by a three-byte U+FFFD).
// The queue must hold at most its byte budget, counted after that
// replacement, and drop (and count) the rest.
func TestLogForwarderMemoryBound(t *testing.T) {
	f, err := NewLogForwarder(&LogForwarderConfig{Addr: "tcp://127.0.0.1:1", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	// No Run: nothing leaves the queue, as with a host that never reads.
	w := f.Writer("stdout")
	lines := []string{strings.Repeat("x", DefaultMaxLogLine-1), strings.Repeat("\xff", DefaultMaxLogLine-1)}
	const n = 2 * DefaultLogQueue
	for i := range n {
		if _, err := w.Write([]byte(lines[i%2] + "\n")); err != nil {
			t.Fatal(err)
		}
	}
	var held int
	queued := len(f.queue)
	for len(f.queue) > 0 {
		held += len((<-f.queue).Line)
	}
	s := f.Stats()
	t.Logf("%d lines of 16 KiB with the host stuck: %d queued holding %d bytes; %+v", n, queued, held, s)
	if held > DefaultLogQueueBytes {
		t.Fatalf("the queue holds %d bytes of lines, over its budget of %d", held, DefaultLogQueueBytes)
	}
	if s.DroppedLines != uint64(n-queued) || s.DroppedLines == 0 {
		t.Fatalf("%d lines written, %d queued, stats %+v", n, queued, s)
	}
}
