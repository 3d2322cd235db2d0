// SPDX-License-Identifier: Apache-2.0

package boot

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// headerFlood serves, on loopback TCP until the test ends, the parent's
// answer to every request: 200, a header block of n bytes of short
// distinct lines (each of which Go's http.Transport keeps as its own map
// entry, key and value), then body. It returns the address as
// "tcp://HOST:PORT".
func headerFlood(t testing.TB, n int, body string) string {
	t.Helper()
	var b bytes.Buffer
	b.WriteString("HTTP/1.1 200 OK\r\n")
	for i := 0; b.Len() < n; i++ {
		b.WriteString("X" + strconv.FormatInt(int64(i), 36) + ":\r\n")
	}
	b.WriteString("Content-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body)
	answer := b.Bytes()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
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
				_, _ = io.Copy(io.Discard, req.Body)
				_, _ = c.Write(answer) // fails once the client gives up
			}()
		}
	}()
	return "tcp://" + ln.Addr().String()
}

// allocated returns the bytes f allocates on the heap (every goroutine's,
// the parent's included: it allocates nothing while it writes).
func allocated(f func()) uint64 {
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	f()
	runtime.ReadMemStats(&m1)
	return m1.TotalAlloc - m0.TotalAlloc
}

// TestSyncClockHeaderBound: a time route answering with 10 MiB of headers
// (Go's default bound, less room for the status line) and a valid time
// after them is refused once maxTimeHeader of them are read, the clock
// left alone, at a cost of a few MiB, not the ~160 MiB of reading them
// all. An answer whose headers come close to the bound, far more than
// host-proxy's route sends (four lines), is still read.
func TestSyncClockHeaderBound(t *testing.T) {
	const huge = 10<<20 - 64<<10
	body := `{"unix_nano":` + strconv.FormatInt(time.Now().UnixNano(), 10) + `}`
	var set []time.Time
	cfg := func(addr string) *ClockConfig {
		return &ClockConfig{Addr: addr, MaxRTT: testMaxRTT, Logger: slog.New(slog.DiscardHandler),
			Set: func(t time.Time) error { set = append(set, t); return nil }}
	}
	c := cfg(headerFlood(t, huge, body))
	var err error
	n := allocated(func() { _, err = SyncClock(context.Background(), c) })
	t.Logf("SyncClock against %.2f MiB of headers: %v; allocated %.1f MiB", float64(huge)/(1<<20), err, float64(n)/(1<<20))
	if err == nil || !strings.Contains(err.Error(), "boot: time route") || !strings.Contains(err.Error(), "headers exceeded") || len(set) != 0 {
		t.Errorf("SyncClock: %v, set %v; want an error for headers over the bound and the clock left alone", err, set)
	}
	if n > 8<<20 {
		t.Errorf("one fetch allocated %d MiB (want at most 8 MiB)", n>>20)
	}
	if _, err := SyncClock(context.Background(), cfg(headerFlood(t, maxTimeHeader-1<<10, body))); err != nil {
		t.Errorf("headers within the bound: %v", err)
	}
}
