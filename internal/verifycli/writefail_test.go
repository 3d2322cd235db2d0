// SPDX-License-Identifier: Apache-2.0

package verifycli

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/enclavekit/enclavekit/internal/awsvectors"
)

// failWriter accepts the first n bytes, then fails every write.
type failWriter struct{ n int }

var errWriteFailed = errors.New("no space left on device")

func (w *failWriter) Write(b []byte) (int, error) {
	if len(b) <= w.n {
		w.n -= len(b)
		return len(b), nil
	}
	n := w.n
	w.n = 0
	return n, errWriteFailed
}

// TestVerifyTextWriteError checks that a text report that could not be
// written exits 2 with "writing the report: ...", as a --json one does
// (DESIGN: 2 is a usage or I/O error). Before, the text report's write
// errors were ignored and nitro-verify exited 0, so a script reading its
// output saw a verified document and a truncated report (found by review).
func TestVerifyTextWriteError(t *testing.T) {
	real := awsvectors.Path(t, "attestation")
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"enclave", []string{"--at", "document", filepath.Join(real, "real", "2024-12-13_oyster_aws.cbor")}},
		{"nitrotpm", []string{"--nitrotpm", "--at", "document", filepath.Join(real, "nitrotpm", "2026-03-25_nitrotpm_a.cbor")}},
		{"json", []string{"--json", "--at", "document", filepath.Join(real, "real", "2024-12-13_oyster_aws.cbor")}},
	} {
		// Fail at the first write, and in the middle of the report.
		for _, n := range []int{0, 200, 2000} {
			var errb bytes.Buffer
			code := Run(tc.args, strings.NewReader(""), &failWriter{n: n}, &errb, testNow)
			want := "nitro-verify: error: writing the report: no space left on device\n"
			if code != ExitUsage || errb.String() != want {
				t.Errorf("%s, failing after %d bytes: exit %d, stderr %q; want exit 2 and %q", tc.name, n, code, errb.String(), want)
			}
		}
	}
	// A real device that is always full.
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skipf("no /dev/full: %v", err)
	}
	defer full.Close()
	var errb bytes.Buffer
	code := Run([]string{"--at", "document", filepath.Join(real, "real", "2024-12-13_oyster_aws.cbor")}, strings.NewReader(""), full, &errb, testNow)
	if code != ExitUsage || !strings.HasPrefix(errb.String(), "nitro-verify: error: writing the report: ") {
		t.Errorf(">/dev/full: exit %d, stderr %q; want exit 2 and writing the report: ...", code, errb.String())
	}
}

// TestHelpWriteError: a help text that could not be written exits 2 with
// "writing the help: ...", as a report does (TestVerifyTextWriteError),
// for the top level and measure alike; before, the error was ignored and
// nitro-verify exited 0 (found by review).
func TestHelpWriteError(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}, {"measure", "--help"}, {"measure", "help"}} {
		for _, n := range []int{0, 100} {
			var errb bytes.Buffer
			code := Run(args, strings.NewReader(""), &failWriter{n: n}, &errb, testNow)
			want := "nitro-verify: error: writing the help: no space left on device\n"
			if code != ExitUsage || errb.String() != want {
				t.Errorf("%q, failing after %d bytes: exit %d, stderr %q; want exit 2 and %q", args, n, code, errb.String(), want)
			}
		}
	}
}
