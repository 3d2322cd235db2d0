// SPDX-License-Identifier: Apache-2.0

package transport

import (
	"context"
	"net"

	"github.com/mdlayher/vsock"
)

func dialVsock(ctx context.Context, cid, port uint32) (net.Conn, error) {
	c, err := vsock.DialContext(ctx, cid, port, nil)
	if err != nil {
		return nil, err
	}
	return c, nil
}

func listenVsock(cid, port uint32) (net.Listener, error) {
	l, err := vsock.ListenContextID(cid, port, nil)
	if err != nil {
		return nil, err
	}
	return l, nil
}

func vsockAddr(a net.Addr) (cid, port uint32, ok bool) {
	if v, isV := a.(*vsock.Addr); isV {
		return v.ContextID, v.Port, true
	}
	return 0, 0, false
}
