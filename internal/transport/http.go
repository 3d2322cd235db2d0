// SPDX-License-Identifier: Apache-2.0

package transport

import (
	"context"
	"net"
	"net/http"
)

// MaxRouteHeader bounds the status line and headers [RouteHTTP] reads
// (http.Transport.MaxResponseHeaderBytes; its default is 10 MiB).
// host-proxy's service routes send four short lines (Cache-Control,
// Content-Type, Content-Length, Date). Unbounded, a parent answering with
// 10 MiB of short distinct lines cost the enclave ~160 MiB of heap per
// fetch: each line is a map entry, key and value.
const MaxRouteHeader = 16 << 10

// RouteHTTP returns the HTTP transport of a one-shot client of a
// host-proxy service route at a (the credential route, the time route):
// every request is dialled to a, through no proxy, on a connection of its
// own, and at most MaxRouteHeader bytes of its answer's head are read.
func RouteHTTP(a Addr) *http.Transport {
	return &http.Transport{
		Proxy:                  nil,
		DisableKeepAlives:      true,
		MaxResponseHeaderBytes: MaxRouteHeader,
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return Dial(ctx, a)
		},
	}
}
