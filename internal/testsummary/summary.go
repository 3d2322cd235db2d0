// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
)

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action      string
	Package     string
	Test        string
	Output      string
	FailedBuild string
}

// key names one test in one package.
type key struct{ pkg, test string }

// Summary accumulates a `go test -json` stream.
type Summary struct {
	Passed, Failed, Skipped int

	// SkipReasons maps a skip reason to the tests skipped for it.
	SkipReasons map[string][]string
	// FailedTests lists the failed tests as package.Test.
	FailedTests []string
	// FailedPackages lists packages that failed without a failing test.
	FailedPackages []string

	out        io.Writer
	buf        map[key][]string
	testFailed map[string]bool // package -> at least one test failed
	nonJSON    int
}

// NewSummary returns a Summary that echoes go test's non-verbose output to
// out.
func NewSummary(out io.Writer) *Summary {
	return &Summary{
		SkipReasons: map[string][]string{},
		out:         out,
		buf:         map[key][]string{},
		testFailed:  map[string]bool{},
	}
}

// Read consumes a whole `go test -json` stream. Lines that are not JSON
// (go test writes some errors as plain text) are echoed as they are.
func (s *Summary) Read(r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &e) != nil {
			s.nonJSON++
			fmt.Fprintf(s.out, "%s\n", line)
			continue
		}
		s.Add(e)
	}
	return sc.Err()
}

// Add accounts for one event.
func (s *Summary) Add(e event) {
	switch e.Action {
	case "build-output":
		io.WriteString(s.out, e.Output)
		return
	case "build-fail":
		return
	}
	if e.Test == "" {
		s.addPackage(e)
		return
	}
	k := key{e.Package, e.Test}
	switch e.Action {
	case "output":
		// -json implies -v: drop the verbose markers go test without -v
		// does not print.
		if !strings.HasPrefix(e.Output, "=== ") {
			s.buf[k] = append(s.buf[k], e.Output)
		}
	case "pass":
		s.Passed++
		delete(s.buf, k)
	case "fail":
		s.Failed++
		s.FailedTests = append(s.FailedTests, e.Package+"."+e.Test)
		s.testFailed[e.Package] = true
		for _, l := range s.buf[k] {
			io.WriteString(s.out, l)
		}
		delete(s.buf, k)
	case "skip":
		s.Skipped++
		r := skipReason(s.buf[k])
		s.SkipReasons[r] = append(s.SkipReasons[r], e.Package+"."+e.Test)
		delete(s.buf, k)
	}
}

func (s *Summary) addPackage(e event) {
	switch e.Action {
	case "output":
		// go test without -v prints neither the package's bare PASS line
		// nor the verbose markers; everything else (ok, FAIL, panics,
		// coverage, "no test files") is echoed.
		if e.Output == "PASS\n" || strings.HasPrefix(e.Output, "=== ") {
			return
		}
		io.WriteString(s.out, e.Output)
	case "fail":
		if !s.testFailed[e.Package] {
			why := "failed without a failing test"
			if e.FailedBuild != "" {
				why = "build failed"
			}
			s.FailedPackages = append(s.FailedPackages, e.Package+": "+why)
			s.Failed++
		}
		// A test still running when its package failed (a timeout or a
		// panic) has no fail event of its own: show what it printed.
		for k, lines := range s.buf {
			if k.pkg == e.Package {
				for _, l := range lines {
					io.WriteString(s.out, l)
				}
				delete(s.buf, k)
			}
		}
	}
}

// fileLine matches the "name_test.go:12: " prefix testing adds to t.Log.
var fileLine = regexp.MustCompile(`^\s*[\w.-]+\.go:\d+: `)

// skipReason extracts the message a skipped test printed.
func skipReason(lines []string) string {
	var parts []string
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "=== ") || strings.HasPrefix(t, "--- SKIP") {
			continue
		}
		parts = append(parts, strings.TrimSpace(fileLine.ReplaceAllString(l, "")))
	}
	if len(parts) == 0 {
		return "(no reason given)"
	}
	return strings.Join(parts, " / ")
}

// Report writes the skip reasons with their counts, the failed packages,
// the notes and, last, the summary line.
func (s *Summary) Report(w io.Writer, notes []string) {
	if len(s.SkipReasons) > 0 {
		reasons := make([]string, 0, len(s.SkipReasons))
		for r := range s.SkipReasons {
			reasons = append(reasons, r)
		}
		sort.Slice(reasons, func(i, j int) bool {
			a, b := len(s.SkipReasons[reasons[i]]), len(s.SkipReasons[reasons[j]])
			if a != b {
				return a > b
			}
			return reasons[i] < reasons[j]
		})
		fmt.Fprintf(w, "\nskipped tests, by reason:\n")
		for _, r := range reasons {
			tests := s.SkipReasons[r]
			sort.Strings(tests)
			ex := tests[0]
			if len(tests) > 1 {
				ex += ", …"
			}
			fmt.Fprintf(w, "%5d  %s  (%s)\n", len(tests), r, ex)
		}
	}
	if len(s.FailedTests) > 0 {
		fmt.Fprintf(w, "\nfailed tests:\n")
		tests := append([]string(nil), s.FailedTests...)
		sort.Strings(tests)
		for _, t := range tests {
			fmt.Fprintf(w, "       %s\n", t)
		}
	}
	if len(s.FailedPackages) > 0 {
		fmt.Fprintf(w, "\nfailed packages:\n")
		for _, p := range s.FailedPackages {
			fmt.Fprintf(w, "       %s\n", p)
		}
	}
	if len(notes) > 0 {
		fmt.Fprintln(w)
		for _, n := range notes {
			fmt.Fprintf(w, "note: %s\n", n)
		}
	}
	fmt.Fprintf(w, "\n%d passed, %d failed, %d skipped\n", s.Passed, s.Failed, s.Skipped)
}
