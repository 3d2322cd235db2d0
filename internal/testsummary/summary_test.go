// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const stream = `{"Action":"start","Package":"ex/a"}
{"Action":"run","Package":"ex/a","Test":"TestOK"}
{"Action":"output","Package":"ex/a","Test":"TestOK","Output":"=== RUN   TestOK\n"}
{"Action":"output","Package":"ex/a","Test":"TestOK","Output":"    a_test.go:9: quiet on success\n"}
{"Action":"pass","Package":"ex/a","Test":"TestOK"}
{"Action":"output","Package":"ex/a","Test":"TestBad","Output":"=== RUN   TestBad\n"}
{"Action":"output","Package":"ex/a","Test":"TestBad","Output":"    a_test.go:12: got 1, want 2\n"}
{"Action":"output","Package":"ex/a","Test":"TestBad","Output":"--- FAIL: TestBad (0.00s)\n"}
{"Action":"fail","Package":"ex/a","Test":"TestBad"}
{"Action":"output","Package":"ex/a","Test":"TestPG1","Output":"    pg_test.go:30: no PostgreSQL here\n"}
{"Action":"output","Package":"ex/a","Test":"TestPG1","Output":"--- SKIP: TestPG1 (0.00s)\n"}
{"Action":"skip","Package":"ex/a","Test":"TestPG1"}
{"Action":"output","Package":"ex/a","Test":"TestPG2","Output":"    other_test.go:7: no PostgreSQL here\n"}
{"Action":"skip","Package":"ex/a","Test":"TestPG2"}
{"Action":"skip","Package":"ex/a","Test":"TestSilent"}
{"Action":"output","Package":"ex/a","Output":"FAIL\n"}
{"Action":"output","Package":"ex/a","Output":"FAIL\tex/a\t0.01s\n"}
{"Action":"fail","Package":"ex/a"}
{"Action":"output","Package":"ex/b","Output":"PASS\n"}
{"Action":"output","Package":"ex/b","Output":"ok  \tex/b\t0.01s\n"}
{"Action":"pass","Package":"ex/b"}
{"ImportPath":"ex/c","Action":"build-output","Output":"c.go:3:1: syntax error\n"}
{"ImportPath":"ex/c","Action":"build-fail"}
{"Action":"output","Package":"ex/c","Output":"FAIL\tex/c [build failed]\n"}
{"Action":"fail","Package":"ex/c","FailedBuild":"ex/c"}
not json: go test said something plain
`

func TestSummaryCountsAndEchoes(t *testing.T) {
	var out bytes.Buffer
	s := NewSummary(&out)
	if err := s.Read(strings.NewReader(stream)); err != nil {
		t.Fatal(err)
	}
	if s.Passed != 1 || s.Failed != 2 || s.Skipped != 3 {
		t.Fatalf("passed %d failed %d skipped %d, want 1 2 3", s.Passed, s.Failed, s.Skipped)
	}
	got := out.String()
	for _, want := range []string{"got 1, want 2", "--- FAIL: TestBad", "FAIL\tex/a\t0.01s", "ok  \tex/b\t0.01s", "c.go:3:1: syntax error", "FAIL\tex/c [build failed]", "not json: go test said something plain"} {
		if !strings.Contains(got, want) {
			t.Errorf("echo lacks %q:\n%s", want, got)
		}
	}
	for _, unwanted := range []string{"quiet on success", "PASS\n", "=== RUN"} {
		if strings.Contains(got, unwanted) {
			t.Errorf("echo has %q, which go test without -v does not print:\n%s", unwanted, got)
		}
	}
	if n := len(s.SkipReasons["no PostgreSQL here"]); n != 2 {
		t.Errorf("skip reason %q: %d tests, want 2 (%v)", "no PostgreSQL here", n, s.SkipReasons)
	}
	if n := len(s.SkipReasons["(no reason given)"]); n != 1 {
		t.Errorf("silent skip: %d, want 1", n)
	}

	var rep bytes.Buffer
	s.Report(&rep, []string{"PostgreSQL not installed"})
	lines := strings.Split(strings.TrimRight(rep.String(), "\n"), "\n")
	if last := lines[len(lines)-1]; last != "1 passed, 2 failed, 3 skipped" {
		t.Errorf("last line %q", last)
	}
	for _, want := range []string{"    2  no PostgreSQL here  (ex/a.TestPG1, …)", "failed tests:\n       ex/a.TestBad\n", "ex/c: build failed", "note: PostgreSQL not installed"} {
		if !strings.Contains(rep.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, rep.String())
		}
	}
}

// TestRunRealGoTest runs go test on a small module with one passing, one
// failing and one skipped test.
func TestRunRealGoTest(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module example.com/ex\n\ngo 1.22\n")
	write("ex_test.go", `package ex

import "testing"

func TestPass(t *testing.T) {}
func TestFail(t *testing.T) { t.Fatal("deliberate failure") }
func TestSkip(t *testing.T) { t.Skip("tool missing") }
`)
	t.Chdir(dir)
	t.Setenv("GOFLAGS", "-mod=mod")
	var out, errb bytes.Buffer
	code := run([]string{"-note", "a note", "--", "-count=1", "./..."}, &out, &errb)
	if code != 1 {
		t.Fatalf("exit %d, want 1; stdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
	}
	o := out.String()
	if !strings.HasSuffix(o, "\n1 passed, 1 failed, 1 skipped\n") {
		t.Errorf("output does not end with the summary line:\n%s", o)
	}
	for _, want := range []string{"deliberate failure", "FAIL\texample.com/ex", "    1  tool missing  (example.com/ex.TestSkip)", "note: a note"} {
		if !strings.Contains(o, want) {
			t.Errorf("output lacks %q:\n%s", want, o)
		}
	}

	// Only passing and skipped tests: exit 0.
	out.Reset()
	if code := run([]string{"--", "-count=1", "-run", "TestPass|TestSkip", "./..."}, &out, &errb); code != 0 {
		t.Fatalf("exit %d, want 0:\n%s", code, out.String())
	}
	if !strings.HasSuffix(out.String(), "\n1 passed, 0 failed, 1 skipped\n") || !strings.Contains(out.String(), "ok  \texample.com/ex") {
		t.Errorf("unexpected output:\n%s", out.String())
	}

	// go test itself failing (a bad flag) is a failure, not "0 failed".
	out.Reset()
	if code := run([]string{"--", "-no-such-flag", "./..."}, &out, &errb); code != 1 {
		t.Fatalf("bad go test flag: exit %d, want 1", code)
	}
	if !strings.HasSuffix(out.String(), "0 passed, 1 failed, 0 skipped\n") {
		t.Errorf("bad go test flag: output:\n%s", out.String())
	}
}

func TestUsage(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"-bogus"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "testsummary: error:") {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
}
