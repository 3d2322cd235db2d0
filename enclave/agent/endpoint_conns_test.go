// SPDX-License-Identifier: Apache-2.0

package agent_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/enclavekit/enclavekit/enclave/agent"
	"github.com/enclavekit/enclavekit/enclave/emulator"
)

// These tests are the parent instance opening connections to the
// attestation endpoint (agent.Serve, on vsock in the shipped images) and
// holding them: each held connection costs the enclave a goroutine and
// its buffers, so EndpointConfig.MaxConns bounds how many are served.

// serveEndpoint serves an attestation endpoint configured by cfg (its NSM
// and logger filled in) with agent.Serve on loopback TCP until the test
// ends, and returns its address.
func serveEndpoint(t *testing.T, cfg agent.EndpointConfig) string {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	emu, err := emulator.New(&emulator.Config{Debug: true, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	cfg.NSM, cfg.Kind, cfg.Logger = emu, "emulator", log
	h, err := agent.NewEndpoint(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- agent.Serve(ctx, "tcp://127.0.0.1:0", h, func(a net.Addr) { ready <- a }) }()
	select {
	case a := <-ready:
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Serve after shutdown: %v", err)
			}
		})
		return a.String()
	case err := <-done:
		cancel()
		t.Fatalf("Serve: %v", err)
	case <-time.After(time.Minute): // only turns a hang into a failure
		cancel()
		t.Fatal("Serve did not start")
	}
	return ""
}

// notFound is a cheap request: no NSM work, answered 404, the connection
// kept alive.
const notFound = "GET /x HTTP/1.1\r\nHost: enclave\r\n\r\n"

// request sends notFound on c and reads its answer.
func request(c net.Conn, br *bufio.Reader) error {
	if _, err := io.WriteString(c, notFound); err != nil {
		return err
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		return errors.New(resp.Status)
	}
	return nil
}

// TestEndpointConnectionBound: with MaxConns connections open and kept
// alive, one more is not served (the kernel completes its connect and it
// waits in the accept queue, its request unread) until one of them
// closes; then it is.
func TestEndpointConnectionBound(t *testing.T) {
	const max = 2
	addr := serveEndpoint(t, agent.EndpointConfig{MaxConns: max})
	var held []net.Conn
	for i := range max {
		c := dialTCP(t, addr)
		if err := request(c, bufio.NewReader(c)); err != nil {
			t.Fatalf("connection %d, within the bound: %v", i, err)
		}
		held = append(held, c)
	}
	over := dialTCP(t, addr)
	_ = over.SetDeadline(time.Now().Add(time.Minute)) // only turns a hang into a failure
	done := make(chan error, 1)
	go func() { done <- request(over, bufio.NewReader(over)) }()
	select {
	case err := <-done:
		t.Fatalf("a connection over MaxConns %d was served (err %v) while %d were open", max, err, max)
	case <-time.After(300 * time.Millisecond):
	}
	held[0].Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("the waiting connection's request, once one closed: %v", err)
		}
	case <-time.After(boundSlack):
		t.Fatalf("the waiting connection was not served within %v of one closing", boundSlack)
	}
}

// TestEndpointConnectionFlood: a flood of connections, each sending a
// request and keeping the connection, grows the enclave's goroutines by
// what MaxConns of them cost (one each, and one more each while a request
// is read), not by the flood. Unbounded, 8000 such connections grew the
// agent by 8000 goroutines and ~150 MiB.
func TestEndpointConnectionFlood(t *testing.T) {
	const max, flood = 4, 64
	addr := serveEndpoint(t, agent.EndpointConfig{MaxConns: max})
	before := runtime.NumGoroutine()
	for range flood {
		c := dialTCP(t, addr)
		if _, err := io.WriteString(c, notFound); err != nil {
			t.Fatal(err)
		}
	}
	// The server accepts what it will at once; 300 ms is plenty for the
	// flood to show, on a machine where 64 accepts take microseconds.
	for deadline := time.Now().Add(300 * time.Millisecond); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if grown := runtime.NumGoroutine() - before; grown > 2*max+2 {
			t.Fatalf("%d connections (MaxConns %d) grew the goroutines by %d", flood, max, grown)
		}
	}
}

// TestEndpointMaxConnsNegative: a negative MaxConns is refused with
// ErrConfig, the message naming the field; zero is the default.
func TestEndpointMaxConnsNegative(t *testing.T) {
	emu, err := emulator.New(&emulator.Config{Debug: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer emu.Close()
	_, err = agent.NewEndpoint(&agent.EndpointConfig{NSM: emu, MaxConns: -1})
	if !errors.Is(err, agent.ErrConfig) || !strings.Contains(err.Error(), "MaxConns is negative") {
		t.Fatalf("MaxConns -1: err = %v, want ErrConfig naming MaxConns", err)
	}
	if _, err := agent.NewEndpoint(&agent.EndpointConfig{NSM: emu}); err != nil {
		t.Fatalf("MaxConns 0 (the default): %v", err)
	}
}
