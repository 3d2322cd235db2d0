// SPDX-License-Identifier: Apache-2.0

//go:build !linux

package transport

import (
	"context"
	"fmt"
	"net"
)

func dialVsock(_ context.Context, cid, port uint32) (net.Conn, error) {
	return nil, fmt.Errorf("transport: dial vsock://%d:%d: %w (use a tcp:// or unix:// address)", cid, port, ErrVsockUnsupported)
}

func listenVsock(cid, port uint32) (net.Listener, error) {
	return nil, fmt.Errorf("transport: listen vsock://%d:%d: %w (use a tcp:// or unix:// address)", cid, port, ErrVsockUnsupported)
}

func vsockAddr(net.Addr) (cid, port uint32, ok bool) { return 0, 0, false }
