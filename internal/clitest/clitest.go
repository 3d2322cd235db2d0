// SPDX-License-Identifier: Apache-2.0

// Package clitest holds the testscript commands that the enclavekit
// commands' script tests share, and [CheckHelp] and [CheckUsageLists],
// which hold every subcommand of a command to the help contract of
// package cli.
package clitest

import (
	"errors"
	"os"
	"os/exec"
	"strconv"

	"github.com/rogpeppe/go-internal/testscript"
)

// Cmds returns the shared script commands, to be merged into
// testscript.Params.Cmds:
//
//	exits N cmd args...   run cmd and require exit status N; stdout and
//	                      stderr are kept for the following checks
//	mode PERM FILE        require FILE's permission bits to be PERM (octal)
//
// Every failure in a script is checked with exits, so that a runtime
// failure (1) is never confused with a usage error (2).
func Cmds() map[string]func(ts *testscript.TestScript, neg bool, args []string) {
	return map[string]func(ts *testscript.TestScript, neg bool, args []string){
		"exits": Exits,
		"mode":  Mode,
	}
}

// Exits is the "exits N cmd args..." script command.
func Exits(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exits N command [args...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exits: %v", err)
	}
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("exits: %v", err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("exit status %d, want %d", got, want)
	}
}

// Mode is the "mode PERM FILE" script command.
func Mode(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: mode PERM FILE")
	}
	want, err := strconv.ParseUint(args[0], 8, 32)
	if err != nil {
		ts.Fatalf("mode: %v", err)
	}
	fi, err := os.Stat(ts.MkAbs(args[1]))
	ts.Check(err)
	got := uint64(fi.Mode().Perm())
	if (got == want) == neg {
		ts.Fatalf("%s has mode %#o, want %s%#o", args[1], got, map[bool]string{true: "not ", false: ""}[neg], want)
	}
}

// With returns cmds plus the shared commands (cmds may be nil).
func With(cmds map[string]func(ts *testscript.TestScript, neg bool, args []string)) map[string]func(ts *testscript.TestScript, neg bool, args []string) {
	out := Cmds()
	for k, v := range cmds {
		out[k] = v
	}
	return out
}
