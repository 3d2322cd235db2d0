// SPDX-License-Identifier: Apache-2.0

// Package transport is the one stream-transport abstraction shared by the
// host proxy and the enclave agent: AF_VSOCK in production, TCP and unix
// sockets for development and tests.
//
// # Addresses
//
// An [Addr] is written as a URL-like string and parsed strictly by
// [ParseAddr]:
//
//	vsock://CID:PORT     e.g. vsock://3:8000 (CID and port are decimal uint32;
//	                     "any" is accepted for CID 4294967295, VMADDR_CID_ANY)
//	tcp://HOST:PORT      e.g. tcp://127.0.0.1:8000, tcp://[::1]:8000,
//	                     tcp://kms.eu-west-1.amazonaws.com:443
//	unix:///ABS/PATH     e.g. unix:///run/enclavekit/agent.sock
//	HOST:PORT            the same as tcp://HOST:PORT, e.g. 127.0.0.1:7700
//
// Anything else (another scheme, a relative unix path, a port name such as
// "https", user info, a query or a fragment, leading zeros) is an error that
// wraps [ErrBadAddress].
//
// # Dialling and listening
//
// [Dial] and [Listen] dispatch on [Addr.Network]. Every connection they return
// supports half-close: it implements
//
//	interface{ CloseWrite() error }
//
// (*net.TCPConn, *net.UnixConn and *vsock.Conn all do), which proxies use to
// propagate end-of-stream in one direction while the other keeps flowing.
//
// A unix socket [Listen] creates has mode [UnixSocketMode] (0600) whatever
// the process's umask: only its user may connect. On Linux the file is
// created with that mode; elsewhere it is chmod'ed right after bind(2),
// and only a 0700 directory around it closes that short window.
//
// # Portability
//
// AF_VSOCK is implemented only on Linux (github.com/mdlayher/vsock); on other
// systems [Dial] and [Listen] return an error wrapping [ErrVsockUnsupported]
// for vsock addresses, while TCP and unix sockets work everywhere.
package transport
