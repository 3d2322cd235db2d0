// SPDX-License-Identifier: Apache-2.0

package proxy

import (
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/mdlayher/vsock"
)

// fakeListener hands out pipe ends with a chosen remote address.
type fakeListener struct {
	conns chan net.Conn
}

type addrConn struct {
	net.Conn
	remote net.Addr
}

func (c addrConn) RemoteAddr() net.Addr { return c.remote }

func (l *fakeListener) Accept() (net.Conn, error) {
	c, ok := <-l.conns
	if !ok {
		return nil, net.ErrClosed
	}
	return c, nil
}
func (l *fakeListener) Close() error   { return nil }
func (l *fakeListener) Addr() net.Addr { return &vsock.Addr{ContextID: 3, Port: 8000} }

func TestPeerListener(t *testing.T) {
	fl := &fakeListener{conns: make(chan net.Conn, 4)}
	var refused []string
	l := newPeerListener(fl, []uint32{16}, func(a net.Addr) { refused = append(refused, a.String()) })
	mk := func(remote net.Addr) net.Conn {
		a, b := net.Pipe()
		t.Cleanup(func() { a.Close(); b.Close() })
		return addrConn{Conn: a, remote: remote}
	}
	fl.conns <- mk(&vsock.Addr{ContextID: 17, Port: 1000})            // another enclave
	fl.conns <- mk(&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}) // not vsock at all
	fl.conns <- mk(&vsock.Addr{ContextID: 16, Port: 1001})            // the allowed enclave
	close(fl.conns)
	c, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if va := c.RemoteAddr().(*vsock.Addr); va.ContextID != 16 {
		t.Fatalf("accepted %v", va)
	}
	if len(refused) != 2 || !strings.Contains(refused[0], "vm(17)") || !strings.Contains(refused[1], "127.0.0.1") {
		t.Errorf("refused: %v", refused)
	}
	if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("after close: %v", err)
	}
	if newPeerListener(fl, nil, nil) != net.Listener(fl) {
		t.Error("no allowed_cids must not wrap the listener")
	}
}
