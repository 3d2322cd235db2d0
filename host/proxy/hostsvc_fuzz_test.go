// SPDX-License-Identifier: Apache-2.0

package proxy

import (
	"log/slog"
	"net"
	"testing"
)

// FuzzLogsRoute feeds arbitrary bytes to the logs route's reader, as a
// compromised enclave could: it never panics and returns when the
// connection ends.
func FuzzLogsRoute(f *testing.F) {
	f.Add([]byte(`{"t":1,"stream":"stdout","line":"hello"}` + "\n" + `{"t":2,"stream":"exit","line":"{\"code\":3}","dropped":5}` + "\n"))
	f.Add([]byte(`{"stream":"exit","line":"not json"}` + "\n{\n\x00\xff"))
	p, err := New(&Config{Logger: slog.New(slog.DiscardHandler), Logs: &ServiceConfig{Listen: "tcp://127.0.0.1:0"}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		a, b := net.Pipe()
		done := make(chan struct{})
		go func() { p.readLogs(b); close(done) }()
		_, _ = a.Write(in)
		a.Close()
		<-done
	})
}
