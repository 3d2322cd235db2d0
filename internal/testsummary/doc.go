// SPDX-License-Identifier: Apache-2.0

// Command testsummary runs `go test -json` with the arguments it is given
// and prints what `go test` prints without -v (the ok/FAIL/? line of every
// package, the full output of every failing test), then the tests that were
// skipped grouped by their reason with a count, any notes passed with
// -note, and last a summary line that CI recognises:
//
//	N passed, N failed, N skipped
//
// A package that fails without a failing test (a build error, a panic in
// TestMain, a timeout) counts as one failed test. It exits 1 when anything
// failed or `go test` itself exited non-zero, 2 on a usage error.
//
// Usage (from the Makefile's test target, through scripts/test.sh):
//
//	go run ./internal/testsummary [-note TEXT]... -- [go test flags] [packages]
package main
