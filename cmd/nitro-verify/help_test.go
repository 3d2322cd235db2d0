// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/enclavekit/enclavekit/internal/clitest"
	"github.com/enclavekit/enclavekit/internal/verifycli"
)

// TestHelpEveryCommand: the top level (verify) and every subcommand that
// verifycli dispatches answer help, -h and --help with the help, version
// and --version with the version, and --bogus with a usage error naming
// the flag; and the help lists exactly those subcommands.
func TestHelpEveryCommand(t *testing.T) {
	run := func(args []string, stdout, stderr io.Writer) int {
		return verifycli.Main(args, strings.NewReader(""), stdout, stderr)
	}
	cmds := [][]string{nil}
	for _, c := range verifycli.Commands() {
		cmds = append(cmds, []string{c})
	}
	clitest.CheckHelp(t, "nitro-verify", run, cmds, true)
	var usage bytes.Buffer
	run([]string{"--help"}, &usage, io.Discard)
	clitest.CheckUsageLists(t, "nitro-verify", usage.String(), verifycli.Commands())
}
