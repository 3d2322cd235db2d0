// SPDX-License-Identifier: Apache-2.0

package proxy

import (
	"bytes"
	"io"
	"testing"
	"time"
)

// heldPipes counts the splice pipes the engine's connections hold.
func heldPipes(p *Proxy) int {
	held := 0
	for _, w := range p.eng.workers {
		d := make(chan struct{})
		w.post(wmsg{kind: msgCall, done: d, fn: func(w *worker) {
			for _, c := range w.conns {
				if c == nil {
					continue
				}
				for i := range c.dirs {
					if c.dirs[i].pipe != nil {
						held++
					}
				}
			}
		}})
		<-d
	}
	return held
}

// A TCP↔TCP direction that streamed (reads of 64 KiB or more, so through
// a splice pipe) and then went quiet returns its pipe to the worker's
// pool: an idle connection holds no pipe (two descriptors of the worker's
// 64). It used to keep it for as long as it stayed quiet.
func TestIdleConnectionHoldsNoPipe(t *testing.T) {
	up := startServer(t, echo)
	p, _ := startProxy(t, egressConfig(t, up))
	const conns = 4
	for range conns {
		c := dialRoute(t, p, "r")
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(20 * time.Second))
		data := bytes.Repeat([]byte("s"), 4<<20)
		go func() { _, _ = c.Write(data) }()
		if _, err := io.ReadFull(c, make([]byte, len(data))); err != nil {
			t.Fatal(err)
		}
	}
	var spliced int64
	for _, w := range p.eng.workers {
		spliced += w.spliced.Load()
	}
	if spliced == 0 {
		t.Fatal("nothing went through a pipe: the test shows nothing")
	}
	time.Sleep(100 * time.Millisecond) // idle now
	if held := heldPipes(p); held > 0 {
		t.Fatalf("%d idle connections hold %d splice pipes (%d descriptors)", conns, held, 2*held)
	}
	// The connections still stream afterwards.
	c := dialRoute(t, p, "r")
	defer c.Close()
	if got := roundTrip(t, c, bytes.Repeat([]byte("t"), 1<<20)); len(got) != 1<<20 {
		t.Fatalf("echoed %d bytes, want %d", len(got), 1<<20)
	}
}
