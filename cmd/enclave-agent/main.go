// SPDX-License-Identifier: Apache-2.0

// Command enclave-agent runs inside a Nitro Enclave: it asks the NSM (or,
// for development, the emulator) for attestation documents, fetches keys
// from KMS or kms-server with Recipient, and serves attestation documents to
// remote verifiers. Run "enclave-agent help" for the usage.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}
