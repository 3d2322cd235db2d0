// SPDX-License-Identifier: Apache-2.0

// Package e2e holds the end-to-end test of the whole flow with the four
// binaries as separate processes, as scripts/demo.sh runs them: kms-server
// with a key pinned to an enclave image, host-proxy with egress, ingress and
// credentials routes, and enclave-agent with the emulated NSM.
//
// It also runs the shell blocks of README.md and docs/*.md against the same
// binaries (docs_test.go explains the <!-- doctest --> markers), and checks
// that deploy/host-proxy.yaml names every key host-proxy accepts, so the
// docs cannot drift from the code. It has no code of its own; run it with
// `go test ./e2e` (part of `make test`).
package e2e
