// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"io"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/enclavekit/enclavekit/internal/clitest"
)

// TestHelpEveryCommand: every command in the dispatch table (and every pcr
// subcommand) answers help, -h and --help with the help, version and
// --version with the version, and --bogus with a usage error naming the
// flag; and the help lists exactly the commands of the table.
func TestHelpEveryCommand(t *testing.T) {
	getenv := func(string) string { return "" }
	run := func(args []string, stdout, stderr io.Writer) int {
		return run(context.Background(), args, strings.NewReader(""), stdout, stderr, getenv)
	}
	cmds := [][]string{nil}
	for _, c := range slices.Sorted(maps.Keys(commands)) {
		cmds = append(cmds, []string{c})
	}
	for _, c := range pcrCommands {
		cmds = append(cmds, []string{"pcr", c})
	}
	clitest.CheckHelp(t, "enclave-agent", run, cmds, true)
	clitest.CheckUsageLists(t, "enclave-agent", usage, slices.Collect(maps.Keys(commands)))
	for _, c := range pcrCommands {
		if !strings.Contains(usage, "pcr "+c+" N") {
			t.Errorf("the help does not show pcr %s N", c)
		}
	}
}
