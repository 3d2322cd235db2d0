// SPDX-License-Identifier: Apache-2.0

package transport

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// Network names used in [Addr.Network].
const (
	NetworkVsock = "vsock"
	NetworkTCP   = "tcp"
	NetworkUnix  = "unix"
)

// CIDAny is VMADDR_CID_ANY: listening on it accepts connections addressed to
// any context ID of this machine. It is written "any" or "4294967295".
const CIDAny uint32 = 0xFFFFFFFF

// maxUnixPath is the longest path that fits in sockaddr_un.sun_path with its
// terminating NUL on Linux.
const maxUnixPath = 107

// Sentinel errors.
var (
	// ErrBadAddress is wrapped by every [ParseAddr] failure.
	ErrBadAddress = errors.New("transport: bad address")
	// ErrVsockUnsupported is returned for vsock addresses on systems without
	// AF_VSOCK support in this package (anything but Linux).
	ErrVsockUnsupported = errors.New("transport: vsock is not supported on this system")
)

// AddrError describes why an address string was rejected. It matches
// [ErrBadAddress] with errors.Is.
type AddrError struct {
	Input  string // the string given to ParseAddr
	Reason string // what is wrong, e.g. "unix path must be absolute"
}

func (e *AddrError) Error() string {
	return fmt.Sprintf("transport: bad address %q: %s", e.Input, e.Reason)
}

// Is reports whether target is [ErrBadAddress].
func (e *AddrError) Is(target error) bool { return target == ErrBadAddress }

// Addr is a parsed transport address.
type Addr struct {
	// Network is "vsock", "tcp" or "unix".
	Network string
	// CID and Port are the vsock context ID and port (Network "vsock" only).
	CID, Port uint32
	// Address is "host:port" for "tcp" and the absolute socket path for
	// "unix"; empty for "vsock".
	Address string
}

// ParseAddr parses "vsock://CID:PORT", "tcp://HOST:PORT",
// "unix:///ABS/PATH" or a bare "HOST:PORT" (TCP) strictly. See the package
// documentation for the grammar. Errors wrap [ErrBadAddress] and are of
// type *[AddrError].
func ParseAddr(s string) (Addr, error) {
	bad := func(format string, args ...any) (Addr, error) {
		return Addr{}, &AddrError{Input: s, Reason: fmt.Sprintf(format, args...)}
	}
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		if _, _, err := net.SplitHostPort(s); err != nil || strings.ContainsAny(s, "/@") {
			return bad(`want tcp://HOST:PORT, HOST:PORT, vsock://CID:PORT or unix:///ABS/PATH`)
		}
		// A bare HOST:PORT is TCP, with tcp://'s rules.
		a, err := ParseAddr("tcp://" + s)
		if err != nil {
			var ae *AddrError
			if errors.As(err, &ae) {
				ae.Input = s
			}
			return Addr{}, err
		}
		return a, nil
	}
	if strings.ContainsAny(rest, "?#") {
		return bad("query and fragment are not allowed")
	}
	if strings.ContainsRune(rest, 0) {
		return bad("NUL byte in address")
	}
	for _, r := range rest {
		if r < 0x21 || r == 0x7f {
			return bad("control character or space in address")
		}
	}
	switch scheme {
	case NetworkVsock:
		if strings.ContainsAny(rest, "@/[]") {
			return bad("want vsock://CID:PORT")
		}
		cidStr, portStr, ok := strings.Cut(rest, ":")
		if !ok {
			return bad("missing port: want vsock://CID:PORT")
		}
		var cid uint32
		if cidStr == "any" {
			cid = CIDAny
		} else {
			c, err := parseDecimal(cidStr, 32)
			if err != nil {
				return bad("CID %q: %v", cidStr, err)
			}
			cid = uint32(c)
		}
		port, err := parseDecimal(portStr, 32)
		if err != nil {
			return bad("port %q: %v", portStr, err)
		}
		return Addr{Network: NetworkVsock, CID: cid, Port: uint32(port)}, nil
	case NetworkTCP:
		if strings.ContainsAny(rest, "@/") {
			return bad("want tcp://HOST:PORT")
		}
		host, portStr, err := net.SplitHostPort(rest)
		if err != nil {
			return bad("want tcp://HOST:PORT (IPv6 in brackets): %v", unwrapAddrErr(err))
		}
		if host == "" {
			return bad("empty host: use 0.0.0.0 or [::] to listen on every interface")
		}
		if strings.Contains(rest, "[") {
			// Bracketed: must be an IPv6 literal (zones allowed).
			if _, err := netip.ParseAddr(host); err != nil || !strings.Contains(host, ":") {
				return bad("%q in brackets is not an IPv6 address", host)
			}
		} else if strings.Contains(host, ":") {
			return bad("IPv6 address must be in brackets")
		} else if _, err := netip.ParseAddr(host); err != nil && !ValidHostname(host) {
			return bad("%q is neither an IP address nor a valid host name", host)
		}
		if _, err := parseDecimal(portStr, 16); err != nil {
			return bad("port %q: %v", portStr, err)
		}
		return Addr{Network: NetworkTCP, Address: rest}, nil
	case NetworkUnix:
		if !strings.HasPrefix(rest, "/") {
			return bad("unix path must be absolute: want unix:///ABS/PATH")
		}
		if len(rest) > maxUnixPath {
			return bad("unix path is %d bytes, longer than the %d a socket address holds", len(rest), maxUnixPath)
		}
		if strings.HasSuffix(rest, "/") {
			return bad("unix path names a directory")
		}
		return Addr{Network: NetworkUnix, Address: rest}, nil
	case "":
		return bad("empty scheme")
	default:
		return bad("unknown scheme %q: want vsock, tcp or unix", scheme)
	}
}

// MustParseAddr is like [ParseAddr] but panics on error. It is meant for
// constants in tests and examples.
func MustParseAddr(s string) Addr {
	a, err := ParseAddr(s)
	if err != nil {
		panic(err)
	}
	return a
}

// String returns the address in the form [ParseAddr] accepts, so that
// ParseAddr(a.String()) == a for every parsed address: always with its
// scheme, and [CIDAny] as "any". The zero Addr prints as "".
func (a Addr) String() string {
	switch a.Network {
	case NetworkVsock:
		cid := strconv.FormatUint(uint64(a.CID), 10)
		if a.CID == CIDAny {
			cid = "any"
		}
		return "vsock://" + cid + ":" + strconv.FormatUint(uint64(a.Port), 10)
	case NetworkTCP, NetworkUnix:
		return a.Network + "://" + a.Address
	case "":
		return ""
	default:
		return a.Network + "://" + a.Address
	}
}

// IsZero reports whether a is the zero Addr.
func (a Addr) IsZero() bool { return a == Addr{} }

// Dial connects to a. The context bounds the connection attempt only.
func Dial(ctx context.Context, a Addr) (net.Conn, error) {
	switch a.Network {
	case NetworkTCP, NetworkUnix:
		var d net.Dialer
		return d.DialContext(ctx, a.Network, a.Address)
	case NetworkVsock:
		return dialVsock(ctx, a.CID, a.Port)
	default:
		return nil, fmt.Errorf("transport: dial %q: %w", a.String(), errUnknownNetwork(a))
	}
}

// Listen listens on a. For vsock addresses the CID is the local context ID
// to bind ([CIDAny] for every one). A unix socket file gets mode 0600
// whatever the umask (see [UnixSocketMode]); it is removed when the
// listener is closed; a stale file left by a crashed process makes Listen
// fail with "address already in use".
func Listen(a Addr) (net.Listener, error) {
	switch a.Network {
	case NetworkTCP:
		return net.Listen(a.Network, a.Address)
	case NetworkUnix:
		return listenUnix(a.Address)
	case NetworkVsock:
		return listenVsock(a.CID, a.Port)
	default:
		return nil, fmt.Errorf("transport: listen %q: %w", a.String(), errUnknownNetwork(a))
	}
}

// UnixSocketMode is the mode of the unix socket files [Listen] creates:
// connecting to a unix socket needs write permission on its file, so only
// the listener's user may connect. Under a permissive umask (002, 000) the
// file would otherwise let the group, or every local user, connect (to
// host-proxy's credentials route: take the role's credentials).
//
// On Linux the mode is set on the socket before bind(2), which creates
// the file with it (less the umask's bits), so there is no moment at which
// the file is more open. Elsewhere the file is created under the umask and
// chmod'ed right after bind: a process could connect in that short window.
// Placing the socket in a directory only its user can search (0700)
// closes the window on every system, since connect(2) must reach the file
// through the directory.
const UnixSocketMode = 0o600

func listenUnix(path string) (net.Listener, error) {
	lc := net.ListenConfig{Control: controlUnixMode}
	ln, err := lc.Listen(context.Background(), NetworkUnix, path)
	if err != nil {
		return nil, err
	}
	// Windows' unix sockets have no such mode bits.
	if runtime.GOOS != "windows" {
		if err := os.Chmod(path, UnixSocketMode); err != nil {
			ln.Close()
			return nil, fmt.Errorf("transport: listen unix %s: %w", path, err)
		}
	}
	return ln, nil
}

func errUnknownNetwork(a Addr) error {
	return &AddrError{Input: a.String(), Reason: fmt.Sprintf("unknown network %q", a.Network)}
}

// parseDecimal parses a canonical unsigned decimal: digits only, no sign, no
// leading zeros (except "0").
func parseDecimal(s string, bits int) (uint64, error) {
	if s == "" {
		return 0, errors.New("empty")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, errors.New("not a decimal number")
		}
	}
	if len(s) > 1 && s[0] == '0' {
		return 0, errors.New("leading zero")
	}
	v, err := strconv.ParseUint(s, 10, bits)
	if err != nil {
		return 0, fmt.Errorf("out of range for %d bits", bits)
	}
	return v, nil
}

// ValidHostname reports whether h is a syntactically valid DNS name
// (letters, digits, hyphens, underscores in labels of 1-63, total ≤ 253, an
// optional trailing dot).
func ValidHostname(h string) bool {
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			switch {
			case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
			default:
				return false
			}
		}
	}
	return true
}

func unwrapAddrErr(err error) string {
	var ae *net.AddrError
	if errors.As(err, &ae) {
		return ae.Err
	}
	return err.Error()
}

// Bound returns the address a listener opened from a is bound to, written
// as [ParseAddr] reads it: a with the port the kernel chose when a asked
// for any (tcp port 0, vsock port 4294967295). A vsock listener keeps a's
// CID ("any" stays "any"), so logs read vsock://any:8000, never the socket
// library's vm(4294967295):8000.
func Bound(a Addr, l net.Listener) Addr {
	switch a.Network {
	case NetworkTCP:
		if t, ok := l.Addr().(*net.TCPAddr); ok {
			return Addr{Network: NetworkTCP, Address: t.String()}
		}
	case NetworkVsock:
		if _, port, ok := vsockAddr(l.Addr()); ok {
			return Addr{Network: NetworkVsock, CID: a.CID, Port: port}
		}
	}
	return a
}

// PeerString writes a connection's address as [ParseAddr] reads it
// (vsock://3:1034, tcp://10.0.0.5:40000, unix:///run/x.sock), so that logs
// never show the socket library's vm(3):1034; other addresses as they
// print themselves.
func PeerString(a net.Addr) string {
	if a == nil {
		return ""
	}
	if cid, port, ok := vsockAddr(a); ok {
		return Addr{Network: NetworkVsock, CID: cid, Port: port}.String()
	}
	switch v := a.(type) {
	case *net.TCPAddr:
		return "tcp://" + v.String()
	case *net.UnixAddr:
		if v.Name == "" || v.Name == "@" {
			return "unix:(unnamed)"
		}
		return "unix://" + v.Name
	}
	return a.String()
}
