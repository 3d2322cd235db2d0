// SPDX-License-Identifier: Apache-2.0

package clitest

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

// Runner runs a command in this process with args (without the program
// name) and returns its exit status.
type Runner func(args []string, stdout, stderr io.Writer) int

// CheckHelp checks the help contract of the command name for each command
// line in cmds: a subcommand's words, such as {"pcr", "describe"}, or nil
// for the top level. For each, with CMD the words:
//
//	CMD help, CMD -h, CMD --help   exit 0, the help on stdout (starting
//	                               "Usage:"), nothing on stderr
//	CMD version, CMD --version     (if version) exit 0, "NAME " and the
//	                               version on stdout, nothing on stderr
//	CMD --bogus                    exit 2, nothing on stdout; stderr starts
//	                               "NAME: error: unknown flag --bogus" and
//	                               has the hint "run NAME CMD --help for
//	                               usage"
//
// Build cmds from the command's dispatch table, so that a new subcommand
// is checked without a new row.
func CheckHelp(t *testing.T, name string, run Runner, cmds [][]string, version bool) {
	t.Helper()
	for _, cmd := range cmds {
		line := strings.Join(append([]string{name}, cmd...), " ")
		call := func(arg string) (stdout, stderr string, code int) {
			var o, e bytes.Buffer
			code = run(append(append([]string(nil), cmd...), arg), &o, &e)
			return o.String(), e.String(), code
		}
		for _, arg := range []string{"help", "-h", "--help"} {
			stdout, stderr, code := call(arg)
			if code != 0 || !strings.HasPrefix(stdout, "Usage:") || stderr != "" {
				t.Errorf("%s %s: exit %d, want 0 with the help on stdout and nothing on stderr\nstdout: %.200q\nstderr: %q",
					line, arg, code, stdout, stderr)
			}
		}
		if version {
			for _, arg := range []string{"version", "--version"} {
				stdout, stderr, code := call(arg)
				if code != 0 || !strings.HasPrefix(stdout, name+" ") || strings.Count(stdout, "\n") != 1 || stderr != "" {
					t.Errorf("%s %s: exit %d, want 0 with %q and the version on stdout and nothing on stderr\nstdout: %.200q\nstderr: %q",
						line, arg, code, name+" ", stdout, stderr)
				}
			}
		}
		stdout, stderr, code := call("--bogus")
		hint := name + ": hint: run " + line + " --help for usage\n"
		hintOK := strings.Contains(stderr, "\n"+hint)
		if code != 2 || stdout != "" || !strings.HasPrefix(stderr, name+": error: unknown flag --bogus\n") || !hintOK {
			t.Errorf("%s --bogus: exit %d, want 2 with %q and the hint %q on stderr and nothing on stdout\nstdout: %.200q\nstderr: %q",
				line, code, name+": error: unknown flag --bogus", "run "+line+" --help for usage", stdout, stderr)
		}
	}
}

// CheckUsageLists checks that the help text usage of the command name
// lists exactly the subcommands of its dispatch table, besides help and
// version: those named in a synopsis or example line ("NAME init [--dir
// DIR]", indented or after "Usage:") and the first word of each entry of a
// "Commands:" section.
func CheckUsageLists(t *testing.T, name, usage string, table []string) {
	t.Helper()
	listed := map[string]bool{}
	inCommands := false
	for _, l := range strings.Split(usage, "\n") {
		switch {
		case l == "Commands:":
			inCommands = true
			continue
		case l == "":
			inCommands = false
		}
		if inCommands && strings.HasPrefix(l, "  ") && len(l) > 2 && l[2] != ' ' {
			listed[strings.Fields(l)[0]] = true
			continue
		}
		// A synopsis or an example: indented, or after "Usage:" (a
		// sentence of prose starting "NAME logs" is neither).
		synopsis, ok := strings.CutPrefix(l, "Usage:")
		f := strings.Fields(synopsis)
		if (ok || strings.HasPrefix(l, " ")) && len(f) >= 2 && f[0] == name && isWord(f[1]) {
			listed[f[1]] = true
		}
	}
	delete(listed, "help")
	delete(listed, "version")
	for _, c := range table {
		if !listed[c] {
			t.Errorf("the help of %s does not list its subcommand %s", name, c)
		}
		delete(listed, c)
	}
	for c := range listed {
		t.Errorf("the help of %s lists %s, which is not in its dispatch table", name, c)
	}
}

// isWord reports whether s could name a subcommand: lower-case letters
// and dashes, starting with a letter.
func isWord(s string) bool {
	for i, r := range s {
		if !(r >= 'a' && r <= 'z' || i > 0 && r == '-') {
			return false
		}
	}
	return s != ""
}
