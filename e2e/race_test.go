// SPDX-License-Identifier: Apache-2.0

//go:build race

package e2e

// raceEnabled: the binaries are built with -race too, like this test, so
// that `go test -race ./...` compiles every dependency once for both.
const raceEnabled = true
