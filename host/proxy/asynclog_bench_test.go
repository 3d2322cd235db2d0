// SPDX-License-Identifier: Apache-2.0

package proxy

import (
	"fmt"
	"io"
	"log/slog"
	"testing"
)

// BenchmarkConnectLogged is BenchmarkConnect's proxy path with a logger:
// at info (the default: each connection's debug lines filtered out, the
// cost host-proxy pays in production) and at debug (two lines a
// connection, written to a sink that never blocks). Compare with the
// log queue against logging in the worker (docs/PERFORMANCE.md):
//
//	go test -run '^$' -bench ConnectLogged -count 6 -benchtime 2000x ./host/proxy | tee logged.txt
func BenchmarkConnectLogged(b *testing.B) {
	for _, lv := range []slog.Level{slog.LevelInfo, slog.LevelDebug} {
		ech := startServer(b, echoKiB)
		p, _ := startProxy(b, &Config{
			AllowList:      []AllowEntry{{Address: "127.0.0.1", Port: ech.port()}},
			Routes:         []Route{{Name: "echo", Direction: Egress, Listen: "tcp://127.0.0.1:0", Destination: ech.url()}},
			MaxConnections: 4096,
			Logger:         slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: lv})),
		})
		for _, n := range []int{1, 64} {
			b.Run(fmt.Sprintf("level=%s/conns=%d", lv, n), func(b *testing.B) { benchConnect(b, p.Addr("echo").String(), n) })
		}
	}
}
