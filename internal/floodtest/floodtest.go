// SPDX-License-Identifier: Apache-2.0

package floodtest

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// HeaderFlood serves, on loopback TCP until the test ends, the same answer
// to every request: 200, a header block of n bytes of short distinct lines
// (each of which Go's http.Transport keeps as its own map entry, key and
// value), then body as JSON. It returns the address as "tcp://HOST:PORT".
func HeaderFlood(tb testing.TB, n int, body string) string {
	tb.Helper()
	var b bytes.Buffer
	b.WriteString("HTTP/1.1 200 OK\r\n")
	for i := 0; b.Len() < n; i++ {
		b.WriteString("X" + strconv.FormatInt(int64(i), 36) + ":\r\n")
	}
	b.WriteString("Content-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body)
	answer := b.Bytes()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(time.Minute)) // only turns a hang into a failure
				req, err := http.ReadRequest(bufio.NewReader(c))
				if err != nil {
					return
				}
				// Read whole, so that closing does not reset the
				// connection under the answer.
				_, _ = io.Copy(io.Discard, req.Body)
				_, _ = c.Write(answer) // fails once the client gives up
			}()
		}
	}()
	return "tcp://" + ln.Addr().String()
}

// Allocated returns the bytes f allocates on the heap: every goroutine's,
// so a HeaderFlood server's too (it allocates nothing while it writes).
func Allocated(f func()) uint64 {
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	f()
	runtime.ReadMemStats(&m1)
	return m1.TotalAlloc - m0.TotalAlloc
}
