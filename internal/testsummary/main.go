// SPDX-License-Identifier: Apache-2.0

package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run parses the arguments, runs go test -json and reports; it returns the
// exit code.
func run(args []string, stdout, stderr io.Writer) int {
	var notes []string
	for len(args) > 0 && args[0] != "--" {
		switch a := args[0]; {
		case a == "-note" && len(args) > 1:
			notes = append(notes, args[1])
			args = args[2:]
		case len(a) > 6 && a[:6] == "-note=":
			notes = append(notes, a[6:])
			args = args[1:]
		case a == "-h" || a == "--help" || a == "help":
			fmt.Fprintln(stdout, "usage: testsummary [-note TEXT]... -- [go test flags] [packages]")
			return 0
		default:
			fmt.Fprintf(stderr, "testsummary: error: unknown argument %q\n", a)
			fmt.Fprintln(stderr, "testsummary: hint: usage: testsummary [-note TEXT]... -- [go test flags] [packages]")
			return 2
		}
	}
	if len(args) > 0 {
		args = args[1:]
	}
	goCmd := os.Getenv("GO")
	if goCmd == "" {
		goCmd = "go"
	}
	cmd := exec.Command(goCmd, append([]string{"test", "-json"}, args...)...)
	cmd.Stderr = stderr
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		fmt.Fprintf(stderr, "testsummary: error: %v\n", err)
		return 1
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(stderr, "testsummary: error: running %s test: %v\n", goCmd, err)
		return 1
	}
	s := NewSummary(stdout)
	readErr := s.Read(pipe)
	io.Copy(io.Discard, pipe) // let go test finish even if reading stopped
	waitErr := cmd.Wait()
	if (readErr != nil || waitErr != nil) && s.Failed == 0 {
		// go test failed outside any package (bad flag, no packages):
		// the summary line must not read as a success.
		s.FailedPackages = append(s.FailedPackages, fmt.Sprintf("%s test: %v", goCmd, errors.Join(readErr, waitErr)))
		s.Failed++
	}
	s.Report(stdout, notes)
	if readErr != nil {
		fmt.Fprintf(stderr, "testsummary: error: reading go test output: %v\n", readErr)
	}
	if readErr != nil || waitErr != nil || s.Failed > 0 {
		return 1
	}
	return 0
}
