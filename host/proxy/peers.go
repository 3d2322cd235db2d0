// SPDX-License-Identifier: Apache-2.0

package proxy

import (
	"net"

	"github.com/mdlayher/vsock"
)

// peerListener closes connections from vsock context IDs outside allowed,
// so that only the named enclaves reach a route (a parent may run several
// enclaves, and any of them can connect to a vsock port of the parent).
type peerListener struct {
	net.Listener
	allowed map[uint32]bool
	refused func(peer net.Addr)
}

func newPeerListener(l net.Listener, cids []uint32, refused func(net.Addr)) net.Listener {
	if len(cids) == 0 {
		return l
	}
	allowed := make(map[uint32]bool, len(cids))
	for _, c := range cids {
		allowed[c] = true
	}
	return &peerListener{Listener: l, allowed: allowed, refused: refused}
}

// Accept returns the next connection from an allowed peer.
func (l *peerListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if va, ok := c.RemoteAddr().(*vsock.Addr); ok && l.allowed[va.ContextID] {
			return c, nil
		}
		l.refused(c.RemoteAddr())
		c.Close()
	}
}
