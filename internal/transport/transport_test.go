// SPDX-License-Identifier: Apache-2.0

package transport

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseAddrGood(t *testing.T) {
	tests := []struct {
		in   string
		want Addr
		str  string // String() if different from in
	}{
		{in: "vsock://3:8000", want: Addr{Network: "vsock", CID: 3, Port: 8000}},
		{in: "vsock://0:0", want: Addr{Network: "vsock"}},
		{in: "vsock://4294967295:4294967295", want: Addr{Network: "vsock", CID: CIDAny, Port: 0xFFFFFFFF}, str: "vsock://any:4294967295"},
		{in: "vsock://any:5000", want: Addr{Network: "vsock", CID: CIDAny, Port: 5000}},
		{in: "127.0.0.1:7700", want: Addr{Network: "tcp", Address: "127.0.0.1:7700"}, str: "tcp://127.0.0.1:7700"},
		{in: "[::1]:7700", want: Addr{Network: "tcp", Address: "[::1]:7700"}, str: "tcp://[::1]:7700"},
		{in: "kms.example.com:443", want: Addr{Network: "tcp", Address: "kms.example.com:443"}, str: "tcp://kms.example.com:443"},
		{in: "tcp://127.0.0.1:8000", want: Addr{Network: "tcp", Address: "127.0.0.1:8000"}},
		{in: "tcp://127.0.0.1:0", want: Addr{Network: "tcp", Address: "127.0.0.1:0"}},
		{in: "tcp://0.0.0.0:65535", want: Addr{Network: "tcp", Address: "0.0.0.0:65535"}},
		{in: "tcp://[::1]:443", want: Addr{Network: "tcp", Address: "[::1]:443"}},
		{in: "tcp://[fe80::1%eth0]:443", want: Addr{Network: "tcp", Address: "[fe80::1%eth0]:443"}},
		{in: "tcp://localhost:80", want: Addr{Network: "tcp", Address: "localhost:80"}},
		{in: "tcp://kms.eu-west-1.amazonaws.com:443", want: Addr{Network: "tcp", Address: "kms.eu-west-1.amazonaws.com:443"}},
		{in: "tcp://host_name.example.:443", want: Addr{Network: "tcp", Address: "host_name.example.:443"}},
		{in: "unix:///run/x.sock", want: Addr{Network: "unix", Address: "/run/x.sock"}},
		{in: "unix:///" + strings.Repeat("a", 106), want: Addr{Network: "unix", Address: "/" + strings.Repeat("a", 106)}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseAddr(tt.in)
			if err != nil {
				t.Fatalf("ParseAddr(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Fatalf("ParseAddr(%q) = %#v, want %#v", tt.in, got, tt.want)
			}
			str := tt.str
			if str == "" {
				str = tt.in
			}
			if got.String() != str {
				t.Errorf("String() = %q, want %q", got.String(), str)
			}
			again, err := ParseAddr(got.String())
			if err != nil || again != got {
				t.Errorf("round trip: ParseAddr(%q) = %#v, %v", got.String(), again, err)
			}
		})
	}
}

func TestParseAddrBad(t *testing.T) {
	tests := []struct {
		in     string
		reason string // substring of AddrError.Reason
	}{
		{"", "want tcp://HOST:PORT, HOST:PORT"},
		{"127.0.0.1", "want tcp://HOST:PORT, HOST:PORT"},
		{"/run/x.sock", "want tcp://HOST:PORT, HOST:PORT"},
		{"user@host:80", "want tcp://HOST:PORT, HOST:PORT"},
		{":8000", "empty host"},
		{"127.0.0.1:https", "not a decimal number"},
		{"::1:80", "want tcp://HOST:PORT, HOST:PORT"},
		{"://x", "empty scheme"},
		{"http://127.0.0.1:80", `unknown scheme "http"`},
		{"TCP://127.0.0.1:80", `unknown scheme "TCP"`},
		{"vsock://3", "missing port"},
		{"vsock://3:", `port "": empty`},
		{"vsock://:8000", `CID "": empty`},
		{"vsock://x:8000", "not a decimal number"},
		{"vsock://-1:8000", "not a decimal number"},
		{"vsock://+3:8000", "not a decimal number"},
		{"vsock://03:8000", "leading zero"},
		{"vsock://3:4294967296", "out of range"},
		{"vsock://4294967296:1", "out of range"},
		{"vsock://3:80:90", "not a decimal number"},
		{"vsock://3:8000/", "want vsock://CID:PORT"},
		{"vsock://u@3:8000", "want vsock://CID:PORT"},
		{"tcp://127.0.0.1", "want tcp://HOST:PORT"},
		{"tcp://:8000", "empty host"},
		{"tcp://127.0.0.1:https", "not a decimal number"},
		{"tcp://127.0.0.1:65536", "out of range"},
		{"tcp://127.0.0.1:-1", "not a decimal number"},
		{"tcp://127.0.0.1:080", "leading zero"},
		{"tcp://::1:80", "want tcp://HOST:PORT"},
		{"tcp://[1.2.3.4]:80", "not an IPv6 address"},
		{"tcp://[zz]:80", "not an IPv6 address"},
		{"tcp://user@host:80", "want tcp://HOST:PORT"},
		{"tcp://host:80/path", "want tcp://HOST:PORT"},
		{"tcp://host:80?x=1", "query and fragment"},
		{"tcp://host:80#f", "query and fragment"},
		{"tcp://ho st:80", "control character or space"},
		{"tcp://bad..name:80", "valid host name"},
		{"tcp://-bad:80", "valid host name"},
		{"tcp://b\x00d:80", "NUL byte"},
		{"unix://relative.sock", "must be absolute"},
		{"unix://", "must be absolute"},
		{"unix:///run/", "names a directory"},
		{"unix:///" + strings.Repeat("a", 107), "longer than the 107"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseAddr(tt.in)
			if err == nil {
				t.Fatalf("ParseAddr(%q) = %#v, want error", tt.in, got)
			}
			if !errors.Is(err, ErrBadAddress) {
				t.Fatalf("error %v does not match ErrBadAddress", err)
			}
			var ae *AddrError
			if !errors.As(err, &ae) {
				t.Fatalf("error %T is not *AddrError", err)
			}
			if ae.Input != tt.in {
				t.Errorf("Input = %q, want %q", ae.Input, tt.in)
			}
			if !strings.Contains(ae.Reason, tt.reason) {
				t.Errorf("Reason = %q, want it to contain %q", ae.Reason, tt.reason)
			}
			if got != (Addr{}) {
				t.Errorf("non-zero Addr returned with error: %#v", got)
			}
		})
	}
}

func TestUnknownNetwork(t *testing.T) {
	a := Addr{Network: "udp", Address: "127.0.0.1:1"}
	if _, err := Dial(context.Background(), a); !errors.Is(err, ErrBadAddress) {
		t.Errorf("Dial: %v, want ErrBadAddress", err)
	}
	if _, err := Listen(a); !errors.Is(err, ErrBadAddress) {
		t.Errorf("Listen: %v, want ErrBadAddress", err)
	}
}

// roundTrip listens on addr, dials it, and checks data both ways plus
// half-close through CloseWrite.
func roundTrip(t *testing.T, listen Addr) {
	t.Helper()
	l, err := Listen(listen)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	dialAddr := listen
	if listen.Network == NetworkTCP {
		dialAddr = Addr{Network: NetworkTCP, Address: l.Addr().String()}
	}

	done := make(chan error, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		// Echo until the client half-closes, then say goodbye and close.
		if _, err := io.Copy(c, c); err != nil {
			done <- err
			return
		}
		if _, err := c.Write([]byte("bye")); err != nil {
			done <- err
			return
		}
		done <- nil
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Dial(ctx, dialAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	msg := bytes.Repeat([]byte("enclavekit "), 10000)
	go func() {
		_, _ = c.Write(msg)
		cw, ok := c.(interface{ CloseWrite() error })
		if !ok {
			t.Errorf("%T has no CloseWrite", c)
			return
		}
		_ = cw.CloseWrite()
	}()
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	want := append(append([]byte(nil), msg...), "bye"...)
	if !bytes.Equal(got, want) {
		t.Fatalf("got %d bytes, want %d", len(got), len(want))
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestTCPRoundTrip(t *testing.T) {
	roundTrip(t, MustParseAddr("tcp://127.0.0.1:0"))
}

func TestUnixRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.sock")
	roundTrip(t, MustParseAddr("unix://"+path))
}

func TestDialRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, err = Dial(context.Background(), Addr{Network: NetworkTCP, Address: addr})
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != "dial" {
		t.Fatalf("Dial to closed port: %v, want *net.OpError dial", err)
	}
}

// TestBoundTCP: a tcp listener on port 0 reports the port chosen; a unix
// one its path.
func TestBoundTCP(t *testing.T) {
	a := MustParseAddr("127.0.0.1:0")
	l, err := Listen(a)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if got, want := Bound(a, l).String(), "tcp://"+l.Addr().String(); got != want || strings.HasSuffix(got, ":0") {
		t.Fatalf("Bound = %q, want %q", got, want)
	}
	u := MustParseAddr("unix://" + filepath.Join(t.TempDir(), "s.sock"))
	ul, err := Listen(u)
	if err != nil {
		t.Fatal(err)
	}
	defer ul.Close()
	if Bound(u, ul) != u {
		t.Fatalf("Bound(unix) = %v", Bound(u, ul))
	}
}

// TestPeerString: peers in the transport syntax.
func TestPeerString(t *testing.T) {
	for _, tt := range []struct {
		a    net.Addr
		want string
	}{
		{&net.TCPAddr{IP: net.IPv4(10, 0, 0, 5), Port: 40000}, "tcp://10.0.0.5:40000"},
		{&net.TCPAddr{IP: net.ParseIP("::1"), Port: 1}, "tcp://[::1]:1"},
		{&net.UnixAddr{Name: "/run/x.sock", Net: "unix"}, "unix:///run/x.sock"},
		{&net.UnixAddr{Net: "unix"}, "unix:(unnamed)"},
		{nil, ""},
	} {
		if got := PeerString(tt.a); got != tt.want {
			t.Errorf("PeerString(%v) = %q, want %q", tt.a, got, tt.want)
		}
	}
}
