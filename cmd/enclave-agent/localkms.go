// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"

	"github.com/enclavekit/enclavekit/enclave"
	"github.com/enclavekit/enclavekit/enclave/agent"
	"github.com/enclavekit/enclavekit/internal/cli"
)

// startKMSEndpoint starts the local KMS endpoint of `serve` and `init`
// (cmd names the command) when --kms-listen is given (HOST:PORT or
// tcp://HOST:PORT, loopback only; the global --kms-endpoint names the key
// service the agent calls), with its own client (the global KMS flags). It
// returns once the endpoint listens (or ctx is done), so an application
// started after it finds it; a failure to listen is its error. It returns
// the context the rest of the command runs under (cancelled if the endpoint
// fails), a wait function returning the endpoint's error once ctx is done,
// and the address it listens on (a kernel-assigned port resolved; nil
// without --kms-listen, or when ctx ended before it listened).
func (a *app) startKMSEndpoint(ctx context.Context, cmd string, nsm enclave.NSM, listen string) (context.Context, func() error, net.Addr, error) {
	if listen == "" {
		return ctx, func() error { return nil }, nil, nil
	}
	flagValue := listen
	if !strings.Contains(listen, "://") {
		listen = "tcp://" + listen
	}
	if err := agent.CheckKMSEndpointAddr(listen); err != nil {
		return nil, nil, nil, usagef("%s: --kms-listen %s: want 127.0.0.1:PORT (the endpoint returns plaintext keys: never on vsock, unix or a non-loopback address)", cmd, listen)
	}
	c, err := a.client(nsm)
	if err != nil {
		return nil, nil, nil, err
	}
	h, err := agent.NewKMSEndpoint(&agent.KMSEndpointConfig{Client: c, Logger: a.log})
	if err != nil {
		c.Close()
		if errors.Is(err, agent.ErrConfig) {
			return nil, nil, nil, cli.Usage(err)
		}
		return nil, nil, nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	var bound boundAddr
	wait, err := startListening(ctx, func(ready func(net.Addr)) error {
		return agent.ServeKMSEndpoint(ctx, listen, h, ready)
	}, func(addr net.Addr) {
		bound.set(addr)
		a.log.Info("local KMS endpoint listening", slog.String("addr", listen), slog.String("local", addr.String()))
	}, cancel)
	if err != nil {
		cancel()
		c.Close()
		return nil, nil, nil, listenError(cmd, "--kms-listen", flagValue, err)
	}
	return ctx, func() error { cancel(); err := wait(); c.Close(); return err }, bound.get(), nil
}

// boundAddr is the address an endpoint's ready callback reports. A stop
// while the endpoint binds lets startListening return before the callback
// runs, so the callback and the reader may race: a mutex orders them.
type boundAddr struct {
	mu   sync.Mutex
	addr net.Addr
}

func (b *boundAddr) set(a net.Addr) { b.mu.Lock(); b.addr = a; b.mu.Unlock() }

func (b *boundAddr) get() net.Addr { b.mu.Lock(); defer b.mu.Unlock(); return b.addr }

// startListening runs serve, an endpoint's serve loop, in a goroutine and
// returns once serve has called its ready argument (it listens; onReady is
// called first), or has failed before that (its error), or ctx is done
// (serve then stops by itself). serve binds at once and must return once
// ctx is done, so the wait is short. stop is called once serve has
// returned (it may cancel ctx); wait returns serve's error after that.
func startListening(ctx context.Context, serve func(ready func(net.Addr)) error, onReady func(net.Addr), stop func()) (wait func() error, err error) {
	ready := make(chan struct{})
	done := make(chan struct{})
	var serveErr error
	go func() {
		defer stop()
		defer close(done)
		serveErr = serve(func(addr net.Addr) {
			onReady(addr)
			close(ready)
		})
	}()
	wait = func() error { <-done; return serveErr }
	select {
	case <-ready:
		return wait, nil
	case <-done:
	case <-ctx.Done():
		// A stop (SIGTERM) while binding, or stop called after serve
		// failed: done is closed before stop, so this tells them apart.
		select {
		case <-done:
		default:
			return wait, nil
		}
	}
	select {
	case <-ready: // it listened, then stopped: its error is for wait
	default:
		if serveErr != nil {
			return nil, serveErr
		}
	}
	return wait, nil
}

// listenError is the error of an endpoint that could not listen on the
// address given with flag.
func listenError(cmd, flag, value string, err error) error {
	return cli.WithHint(fmt.Errorf("%s: %s %s: %w", cmd, flag, value, err),
		"another process may hold the address (the parent instance or the application); choose another port with "+flag)
}
