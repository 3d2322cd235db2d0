// SPDX-License-Identifier: Apache-2.0

package proxy

import (
	"io"
	"net"
	"path/filepath"
	"testing"
	"time"
)

// TestSilentClientsAfterEnclaveClose: an ingress client that never closes
// its side must not keep its max_connections slot once the enclave has
// answered and closed. Before the half-close grace, such a connection stayed
// until idle_timeout (5 min), and 2 × max_connections silent sockets locked
// everyone else out of the enclave's endpoint.
func TestSilentClientsAfterEnclaveClose(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "enclave.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte("document"))
			c.Close() // the enclave has answered and is gone
		}
	}()
	log, _ := testLogger(t)
	const grace = 300 * time.Millisecond
	p, _ := startProxy(t, &Config{Logger: log, IdleTimeout: 5 * time.Minute, ConnectTimeout: 3 * time.Second,
		HalfCloseGrace: grace,
		Routes: []Route{{Name: "attest", Direction: Ingress, MaxConnections: 2,
			MaxConnectionsPerSource: PerSourceUnlimited, // every client here is 127.0.0.1
			Listen:                  "tcp://127.0.0.1:0", Destination: "unix://" + sock}}})

	read := func(c net.Conn) string {
		t.Helper()
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		b, err := io.ReadAll(c)
		if err != nil {
			t.Fatalf("reading the answer: %v (after %q)", err, b)
		}
		return string(b)
	}
	// Silent clients: they read the answer, then neither write nor close.
	for range 4 {
		c := dialRoute(t, p, "attest")
		defer c.Close()
		if got := read(c); got != "document" {
			t.Fatalf("got %q", got)
		}
	}
	start := time.Now()
	c := dialRoute(t, p, "attest")
	defer c.Close()
	if got := read(c); got != "document" {
		t.Fatalf("a client after the silent ones got %q", got)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("a client after the silent ones waited %v for a slot", el)
	}
	r := p.routes[0]
	deadline := time.Now().Add(grace + 3*time.Second)
	for metricValue(r.mActive) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%v active connections %v after the enclave closed them", metricValue(r.mActive), grace+3*time.Second)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestGraceLetsClientFinish: within the grace period a client still sends
// to an enclave that has half-closed (stopped talking but still reads).
func TestGraceLetsClientFinish(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "enclave.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	got := make(chan string, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_ = c.(closeWriter).CloseWrite()
		b, _ := io.ReadAll(c)
		got <- string(b)
	}()
	log, _ := testLogger(t)
	p, _ := startProxy(t, &Config{Logger: log, HalfCloseGrace: 2 * time.Second,
		Routes: []Route{{Name: "attest", Direction: Ingress, Listen: "tcp://127.0.0.1:0", Destination: "unix://" + sock}}})
	c := dialRoute(t, p, "attest")
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if b, err := io.ReadAll(c); err != nil || len(b) != 0 { // the enclave's half-close
		t.Fatalf("read %q, %v", b, err)
	}
	time.Sleep(200 * time.Millisecond) // well within the grace
	if _, err := c.Write([]byte("upload")); err != nil {
		t.Fatal(err)
	}
	_ = c.(closeWriter).CloseWrite()
	select {
	case s := <-got:
		if s != "upload" {
			t.Fatalf("enclave got %q, want upload", s)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("enclave never saw the client's data and EOF")
	}
}
