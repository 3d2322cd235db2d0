// SPDX-License-Identifier: Apache-2.0

package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mdlayher/vsock"

	"github.com/enclavekit/enclavekit/internal/transport"
)

// serveAsync runs Serve on addr and returns the listener address, or the
// error Serve returned before listening.
func serveAsync(t *testing.T, addr string) (net.Addr, error) {
	t.Helper()
	h, err := NewEndpoint(&EndpointConfig{NSM: newEmulator(t), Kind: "emulator"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, addr, h, func(a net.Addr) { ready <- a }) }()
	select {
	case a := <-ready:
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Serve after shutdown: %v", err)
			}
		})
		return a, nil
	case err := <-done:
		cancel()
		return nil, err
	case <-time.After(time.Minute): // only turns a hang into a failure
		cancel()
		t.Fatal("Serve did not start")
		return nil, nil
	}
}

func healthOver(t *testing.T, a transport.Addr) map[string]string {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return transport.Dial(ctx, a)
	}}, Timeout: time.Minute}
	resp, err := c.Get("http://agent" + HealthPath)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil || resp.StatusCode != 200 {
		t.Fatalf("health: %d %v", resp.StatusCode, err)
	}
	return m
}

func TestServeTCPAndUnix(t *testing.T) {
	la, err := serveAsync(t, "tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if m := healthOver(t, transport.Addr{Network: "tcp", Address: la.String()}); m["status"] != "ok" {
		t.Fatalf("tcp health: %v", m)
	}
	dir, err := os.MkdirTemp("", "eka")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "agent.sock")
	if _, err := serveAsync(t, "unix://"+sock); err != nil {
		t.Fatal(err)
	}
	if m := healthOver(t, transport.Addr{Network: "unix", Address: sock}); m["status"] != "ok" {
		t.Fatalf("unix health: %v", m)
	}
	if _, err := serveAsync(t, "http://127.0.0.1:1"); !errors.Is(err, transport.ErrBadAddress) {
		t.Fatalf("bad listen address: %v", err)
	}
}

// TestServeVsock listens on a kernel-assigned AF_VSOCK port where the
// kernel offers AF_VSOCK, and connects to it only where vsock loopback
// exists (a Nitro host or the vsock_loopback module).
func TestServeVsock(t *testing.T) {
	la, err := serveAsync(t, fmt.Sprintf("vsock://any:%d", uint32(0xFFFFFFFF)))
	if err != nil {
		if errors.Is(err, syscall.EAFNOSUPPORT) || errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ENODEV) || errors.Is(err, transport.ErrVsockUnsupported) {
			t.Skipf("AF_VSOCK not available here: %v", err)
		}
		t.Fatalf("Serve on vsock: %v", err)
	}
	va, ok := la.(*vsock.Addr)
	if !ok || va.Port == 0xFFFFFFFF {
		t.Fatalf("vsock listener address %v (%T)", la, la)
	}
	t.Logf("attestation endpoint listening on %v", va)
	t.Run("connect", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		c, err := transport.Dial(ctx, transport.Addr{Network: "vsock", CID: 1, Port: va.Port})
		if err != nil {
			t.Skipf("no vsock loopback on this machine (dial vsock://1:%d: %v); the connect half runs on a Nitro host or with the vsock_loopback module", va.Port, err)
		}
		c.Close()
		if m := healthOver(t, transport.Addr{Network: "vsock", CID: 1, Port: va.Port}); !strings.EqualFold(m["status"], "ok") {
			t.Fatalf("vsock health: %v", m)
		}
	})
}

// TestServeRefusesKMSEndpoint: the generic Serve (vsock, unix, tcp on any
// host) refuses the local KMS endpoint, whose answers carry plaintext,
// before listening, on every kind of address, loopback TCP included
// (ServeKMSEndpoint serves it there, with its own bounds).
func TestServeRefusesKMSEndpoint(t *testing.T) {
	_, c := newFakeClient(t, newEmulator(t), "sealed")
	ep, err := NewKMSEndpoint(&KMSEndpointConfig{Client: c})
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "kms.sock")
	for _, addr := range []string{"unix://" + sock, "tcp://0.0.0.0:0", "tcp://127.0.0.1:0", "vsock://3:8010"} {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		ready := make(chan net.Addr, 1)
		go func() { done <- Serve(ctx, addr, ep, func(a net.Addr) { ready <- a }) }()
		select {
		case a := <-ready:
			cancel()
			<-done
			t.Fatalf("Serve(%s) served the local KMS endpoint on %s", addr, a)
		case err := <-done:
			if !errors.Is(err, ErrKMSEndpointServe) || !strings.Contains(err.Error(), "use ServeKMSEndpoint") {
				t.Errorf("Serve(%s): %v; want ErrKMSEndpointServe", addr, err)
			}
		}
		cancel()
		if _, err := os.Stat(sock); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("Serve(%s) left a socket: %v", addr, err)
		}
	}
}
