// SPDX-License-Identifier: Apache-2.0

package main

import (
	"maps"
	"slices"
	"testing"

	"github.com/enclavekit/enclavekit/internal/clitest"
)

// TestHelpEveryCommand: the top level (serve) and every subcommand in the
// dispatch table answer help, -h and --help with the help, version and
// --version with the version, and --bogus with a usage error naming the
// flag; and the help lists exactly the table's subcommands.
func TestHelpEveryCommand(t *testing.T) {
	cmds := [][]string{nil}
	for _, c := range slices.Sorted(maps.Keys(commands)) {
		cmds = append(cmds, []string{c})
	}
	clitest.CheckHelp(t, "kms-server", run, cmds, true)
	clitest.CheckUsageLists(t, "kms-server", usage, slices.Collect(maps.Keys(commands)))
}
