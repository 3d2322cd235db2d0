// SPDX-License-Identifier: Apache-2.0

package proxy

import (
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/mdlayher/vsock"
)

// TestVsockRoutesListen binds egress and credentials routes on AF_VSOCK, as
// on a parent instance (vsock-proxy's LOCAL_PORT). No vsock loopback here:
// connecting through them is covered by the TCP and unix tests.
func TestVsockRoutesListen(t *testing.T) {
	up := startServer(t, echo)
	cfg := egressConfig(t, up)
	cfg.Routes[0].Listen = "vsock://any:4294967295" // VMADDR_PORT_ANY: the kernel picks
	cfg.Credentials = &CredentialsConfig{Listen: "vsock://any:4294967295", Source: "env", AllowedCIDs: []uint32{16}}
	cfg.Environ = []string{"AWS_ACCESS_KEY_ID=AKIA", "AWS_SECRET_ACCESS_KEY=x"}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Listen(); err != nil {
		if errors.Is(err, syscall.EAFNOSUPPORT) || errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ENODEV) {
			t.Skipf("AF_VSOCK not available: %v", err)
		}
		t.Fatal(err)
	}
	ctx, cancel := contextWithCancel()
	done := make(chan error, 1)
	go func() { done <- p.Serve(ctx) }()
	defer func() { cancel(); <-done }()
	for _, name := range []string{"r", "credentials"} {
		a, ok := p.Addr(name).(*vsock.Addr)
		if !ok || a.Port == 0xFFFFFFFF {
			t.Errorf("%s: bound to %v", name, p.Addr(name))
		}
		if !strings.HasPrefix(p.Addr(name).Network(), "vsock") {
			t.Errorf("%s: network %q", name, p.Addr(name).Network())
		}
	}
}
