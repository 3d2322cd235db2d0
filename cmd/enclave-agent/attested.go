// SPDX-License-Identifier: Apache-2.0

package main

import (
	"cmp"
	"context"
	"encoding/hex"
	"log/slog"
	"net"

	"github.com/enclavekit/enclavekit/enclave"
	"github.com/enclavekit/enclavekit/enclave/agent"
)

// startAttested starts the attested TLS listener of `serve` when
// --attested-listen is given. It returns the context the rest of serve
// runs under (cancelled if the attested listener fails) and a wait
// function returning that listener's error once ctx is done. hsRate is
// --attested-handshake-rate: the handshakes a second and their burst (0:
// the defaults).
func (a *app) startAttested(ctx context.Context, nsm enclave.NSM, listen, upstream string, hsRate int) (context.Context, func() error, error) {
	if listen == "" && upstream == "" {
		return ctx, func() error { return nil }, nil
	}
	if listen == "" || upstream == "" {
		return nil, nil, usagef("serve: --attested-listen ADDR and --upstream URL go together (e.g. --attested-listen vsock://any:5443 --upstream http://127.0.0.1:8080)")
	}
	att, err := agent.NewAttested(&agent.AttestedConfig{NSM: nsm, Upstream: upstream, Logger: a.log,
		MaxHandshakeRate: hsRate, HandshakeBurst: hsRate})
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- att.Serve(ctx, listen, func(addr net.Addr) {
			a.log.Info("attested TLS listening", slog.String("addr", listen), slog.String("local", addr.String()),
				slog.String("upstream", upstream), slog.String("tls_key_sha256", hex.EncodeToString(att.KeyHash())),
				slog.Int("handshake_rate", cmp.Or(hsRate, agent.DefaultAttestedMaxHandshakeRate)))
		})
		cancel()
	}()
	return ctx, func() error { cancel(); return <-done }, nil
}
