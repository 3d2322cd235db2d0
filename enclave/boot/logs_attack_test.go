// SPDX-License-Identifier: Apache-2.0

package boot

import (
	"bufio"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"testing"
	"time"
)

// maliciousLogHost accepts the forwarder's connection, writes inject on it
// (as if the log route could talk back: a command for the application's
// stdin, say) and records what it reads.
func maliciousLogHost(t *testing.T, inject string) (addr string, recs chan LogRecord) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	recs = make(chan LogRecord, 16)
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = c.Write([]byte(inject))
		sc := bufio.NewScanner(c)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var r LogRecord
			if json.Unmarshal(sc.Bytes(), &r) == nil {
				recs <- r
			}
		}
	}()
	return l.Addr().String(), recs
}

// TestLogRouteCannotReachStdin: the host writes on the log connection;
// nothing of it reaches the application, whose stdin is /dev/null, and the
// forwarder keeps sending. It passes on the code it was written against:
// it pins the property (the forwarder never reads from the host, and
// Supervise gives the application no stdin).
func TestLogRouteCannotReachStdin(t *testing.T) {
	addr, recs := maliciousLogHost(t, "rm -rf /\nINJECTED\n")
	f, stop := newForwarder(t, addr, 16)
	defer stop()
	// The forwarder connects with its first record, and the host writes
	// its bytes before it reads any: once the host has that record, its
	// bytes are on the wire.
	f.Record("stdout", "first")
	select {
	case r := <-recs:
		if r.Line != "first" {
			t.Fatalf("the host got %q first", r.Line)
		}
	case <-time.After(waitLimit):
		t.Fatal("the first line never reached the host")
	}
	st, _ := supervise(t, context.Background(), &SupervisorConfig{
		Args:   []string{"sh", "-c", `sleep 0.2; if read -r x; then echo "stdin:$x"; else echo "stdin empty"; fi`},
		Stdout: f.Writer("stdout")})
	if st.Code != 0 {
		t.Fatalf("application: %+v", st)
	}
	select {
	case r := <-recs:
		if r.Line != "stdin empty" {
			t.Fatalf("the application read %q from its stdin", r.Line)
		}
	case <-time.After(waitLimit):
		t.Fatal("the application's line never reached the host")
	}
}

// TestLogRecordTimeResolution: every record carries the enclave's time of
// the line, which the host would otherwise know only from the line's
// arrival, through vsock's jitter. At full resolution it is a clock
// inside the enclave read for the host, nanosecond-precise, after whatever
// the application did before printing (a timing side channel into secret-
// dependent work); the forwarder gives it to the millisecond only.
func TestLogRecordTimeResolution(t *testing.T) {
	f, err := NewLogForwarder(&LogForwarderConfig{Addr: "tcp://127.0.0.1:1", Logger: slog.New(slog.DiscardHandler),
		Clock: func() time.Time { return time.Unix(1765000000, 123456789) }})
	if err != nil {
		t.Fatal(err)
	}
	f.Record("stdout", "a line")
	if r := <-f.queue; r.Time%int64(time.Millisecond) != 0 || r.Time != time.Unix(1765000000, 123000000).UnixNano() {
		t.Fatalf("record time %d: finer than a millisecond", r.Time)
	}
}
