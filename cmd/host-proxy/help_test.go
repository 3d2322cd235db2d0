// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"io"
	"testing"

	"github.com/enclavekit/enclavekit/internal/clitest"
)

// TestHelpEveryCommand: host-proxy has no subcommands; its command line
// answers help, -h and --help with the help, version and --version with
// the version, and --bogus with a usage error naming the flag, as the
// other commands' subcommands do; and the help lists no subcommand.
func TestHelpEveryCommand(t *testing.T) {
	run := func(args []string, stdout, stderr io.Writer) int {
		return run(context.Background(), args, stdout, stderr)
	}
	clitest.CheckHelp(t, "host-proxy", run, [][]string{nil}, true)
	clitest.CheckUsageLists(t, "host-proxy", usage, nil)
}
