// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"

	"github.com/enclavekit/enclavekit/enclave"
	"github.com/enclavekit/enclavekit/enclave/agent"
	"github.com/enclavekit/enclavekit/internal/cli"
)

// startKMSEndpoint starts the local KMS endpoint of `serve` when
// --kms-listen is given (HOST:PORT or tcp://HOST:PORT, loopback only; the
// global --kms-endpoint names the key service the agent calls), with its own client (the global KMS flags). It
// returns the context the rest of serve runs under (cancelled if the
// endpoint fails) and a wait function returning the endpoint's error once
// ctx is done.
func (a *app) startKMSEndpoint(ctx context.Context, nsm enclave.NSM, listen string) (context.Context, func() error, error) {
	if listen == "" {
		return ctx, func() error { return nil }, nil
	}
	if !strings.Contains(listen, "://") {
		listen = "tcp://" + listen
	}
	if err := agent.CheckKMSEndpointAddr(listen); err != nil {
		return nil, nil, usagef("serve: --kms-listen %s: want 127.0.0.1:PORT (the endpoint returns plaintext keys: never on vsock, unix or a non-loopback address)", listen)
	}
	c, err := a.client(nsm)
	if err != nil {
		return nil, nil, err
	}
	h, err := agent.NewKMSEndpoint(&agent.KMSEndpointConfig{Client: c, Logger: a.log})
	if err != nil {
		c.Close()
		if errors.Is(err, agent.ErrConfig) {
			return nil, nil, cli.Usage(err)
		}
		return nil, nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- agent.ServeKMSEndpoint(ctx, listen, h, func(addr net.Addr) {
			a.log.Info("local KMS endpoint listening", slog.String("addr", listen), slog.String("local", addr.String()))
		})
		cancel()
	}()
	return ctx, func() error { cancel(); err := <-done; c.Close(); return err }, nil
}
