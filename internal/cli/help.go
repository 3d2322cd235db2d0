// SPDX-License-Identifier: Apache-2.0

package cli

import (
	"errors"
	"fmt"
	"io"
)

// ErrHelp and ErrVersion end a command before it does anything: its
// arguments asked for the help text or for the version. [Program.Exit]
// prints them.
var (
	ErrHelp    = errors.New("help requested")
	ErrVersion = errors.New("version requested")
)

// HelpArg says what the first of a subcommand's positional arguments (those
// left once its flags are parsed) asks for: [ErrHelp] for "help" (or -h,
// --help, -help given after "--"), [ErrVersion] for "version" (or
// --version, -version), nil otherwise or when there is none. Only the
// first counts: in "kms-server init extra help" the word is an argument.
// Every subcommand calls it, so that "NAME SUB help" is "NAME SUB --help".
func HelpArg(pos []string) error {
	switch {
	case len(pos) == 0:
		return nil
	case IsHelp(pos[0]):
		return ErrHelp
	case IsVersion(pos[0]):
		return ErrVersion
	}
	return nil
}

// UsageHint is the hint a usage error of the subcommand cmd ends with:
// "run NAME CMD --help for usage" ("run NAME --help for usage" when cmd
// is ""). [Program.Fail] adds the top level's to a usage error that has
// no hint of its own.
func (p *Program) UsageHint(cmd string) string {
	if cmd == "" {
		return fmt.Sprintf("run %s --help for usage", p.Name)
	}
	return fmt.Sprintf("run %s %s --help for usage", p.Name, cmd)
}

// WriteHelp writes usage to standard output and returns [ExitOK], or, when
// it could not be written whole, reports "writing the help: ..." and
// returns [ExitUsage] (an I/O error: a script must not take a lost help
// text for one shown). [Program.Exit] ignores that error, as it did
// before WriteHelp; nitro-verify, whose reports fail the same way, uses
// WriteHelp.
func (p *Program) WriteHelp(usage string) int {
	n, err := io.WriteString(p.Stdout, usage)
	if err == nil && n < len(usage) {
		err = io.ErrShortWrite
	}
	if err != nil {
		p.Errorf("writing the help: %v", err)
		return ExitUsage
	}
	return ExitOK
}

// Exit ends a command: it writes usage to standard output for [ErrHelp],
// the version for [ErrVersion] (both exit [ExitOK]), and otherwise reports
// err as [Program.Fail] does. It returns the exit status.
func (p *Program) Exit(err error, usage string) int {
	switch {
	case errors.Is(err, ErrHelp):
		io.WriteString(p.Stdout, usage)
		return ExitOK
	case errors.Is(err, ErrVersion):
		p.PrintVersion()
		return ExitOK
	}
	return p.Fail(err)
}
