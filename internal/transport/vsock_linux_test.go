// SPDX-License-Identifier: Apache-2.0

package transport

import (
	"context"
	"errors"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mdlayher/vsock"
)

// listenVsockOrSkip listens on a kernel-assigned AF_VSOCK port, skipping the
// test where the kernel does not offer AF_VSOCK.
func listenVsockOrSkip(t *testing.T) (Addr, *vsock.Addr, func()) {
	t.Helper()
	a := Addr{Network: NetworkVsock, CID: CIDAny, Port: 0xFFFFFFFF} // VMADDR_PORT_ANY
	l, err := Listen(a)
	if err != nil {
		if errors.Is(err, syscall.EAFNOSUPPORT) || errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ENODEV) {
			t.Skipf("AF_VSOCK not available here: %v", err)
		}
		t.Fatalf("Listen(%s): %v", a, err)
	}
	va, ok := l.Addr().(*vsock.Addr)
	if !ok {
		l.Close()
		t.Fatalf("listener address is %T, want *vsock.Addr", l.Addr())
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()
	return a, va, func() { l.Close() }
}

// TestVsockListen binds AF_VSOCK where the kernel offers it.
func TestVsockListen(t *testing.T) {
	_, va, stop := listenVsockOrSkip(t)
	defer stop()
	if va.Port == 0xFFFFFFFF {
		t.Errorf("kernel did not assign a port: %v", va)
	}
	t.Logf("listening on %v", va)
}

// TestVsockDial dials the listener through the local CID (VMADDR_CID_LOCAL,
// served by the vsock_loopback module). Development machines and CI here have
// no vsock loopback, so the test is skipped when the dial fails.
func TestVsockDial(t *testing.T) {
	_, va, stop := listenVsockOrSkip(t)
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	c, err := Dial(ctx, Addr{Network: NetworkVsock, CID: 1, Port: va.Port})
	if err != nil {
		t.Skipf("no vsock loopback on this machine (dial vsock://1:%d: %v); the dial half runs only on a host with vsock_loopback or in an enclave", va.Port, err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("echo: %q, %v", buf, err)
	}
}

// TestBoundVsock: a vsock listener on any CID and any port is logged as
// vsock://any:PORT with the port the kernel chose, never vm(4294967295).
func TestBoundVsock(t *testing.T) {
	a := Addr{Network: NetworkVsock, CID: CIDAny, Port: 0xFFFFFFFF}
	l, err := Listen(a)
	if err != nil {
		t.Skipf("AF_VSOCK not available here: %v", err)
	}
	defer l.Close()
	va := l.Addr().(*vsock.Addr)
	got := Bound(a, l).String()
	if want := "vsock://any:" + strconv.FormatUint(uint64(va.Port), 10); got != want || strings.Contains(got, "vm(") {
		t.Fatalf("Bound = %q, want %q", got, want)
	}
}

// TestPeerStringVsock: a vsock peer reads vsock://CID:PORT.
func TestPeerStringVsock(t *testing.T) {
	if got := PeerString(&vsock.Addr{ContextID: 16, Port: 1034}); got != "vsock://16:1034" {
		t.Fatalf("PeerString = %q", got)
	}
}
