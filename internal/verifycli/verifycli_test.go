// SPDX-License-Identifier: Apache-2.0

package verifycli

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/enclavekit/enclavekit/testvectors"
)

var testNow = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

// writeVectors copies the embedded vectors to a temporary directory.
func writeVectors(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	err := fs.WalkDir(testvectors.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(testvectors.FS, p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, p), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func run(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(args, strings.NewReader(stdin), &out, &errb, testNow)
	return code, out.String(), errb.String()
}

// vectorArgs turns a manifest entry into command-line flags.
func vectorArgs(dir string, v *testvectors.Vector) []string {
	args := []string{"--json", "--root", filepath.Join(dir, "root.pem")}
	if v.AtDocumentTime {
		args = append(args, "--at", "document")
	} else {
		args = append(args, "--at", v.Time)
	}
	if v.MaxAge != "" {
		args = append(args, "--max-age", v.MaxAge)
	}
	if v.AllowDebug {
		args = append(args, "--allow-debug")
	}
	keys := make([]string, 0, len(v.PCRs))
	for k := range v.PCRs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		args = append(args, "--pcr", k+"="+v.PCRs[k])
	}
	for _, f := range []struct{ flag, v string }{{"--nonce", v.Nonce}, {"--user-data", v.UserData}, {"--public-key", v.PublicKey}} {
		if f.v != "" {
			args = append(args, f.flag, f.v)
		}
	}
	return append(args, filepath.Join(dir, v.File))
}

// TestRunVectors runs the CLI on every generated vector and checks the
// exit code, the JSON report and the stderr line.
func TestRunVectors(t *testing.T) {
	dir := writeVectors(t)
	m, _, err := testvectors.Load(testvectors.FS)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range m.Vectors {
		t.Run(strings.TrimSuffix(v.File, ".cbor"), func(t *testing.T) {
			if v.AtDocumentTime {
				t.Skip("--at document measures freshness against now; covered by TestRunAtDocument")
			}
			code, stdout, stderr := run(t, "", vectorArgs(dir, &v)...)
			var rep Report
			if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
				t.Fatalf("stdout is not JSON: %v\n%s", err, stdout)
			}
			if rep.MediaType != MediaType {
				t.Errorf("mediaType %q", rep.MediaType)
			}
			if v.Expect == testvectors.Valid {
				if code != ExitVerified || !rep.Verified || rep.Error != nil || rep.Document == nil || stderr != "" {
					t.Fatalf("exit %d, report %+v, stderr %s", code, rep, stderr)
				}
				return
			}
			if code != ExitRejected || rep.Verified || rep.Error == nil || rep.Error.Code != v.Expect {
				t.Fatalf("exit %d, error %+v; want exit 1, code %s\n%s", code, rep.Error, v.Expect, stderr)
			}
			if !strings.HasPrefix(stderr, "nitro-verify: error: "+v.Expect+": ") || !strings.Contains(stderr, "\nnitro-verify: hint: ") {
				t.Errorf("stderr %q", stderr)
			}
			if v.Expect == "malformed" && rep.Document != nil {
				t.Error("a malformed document was reported as parsed")
			}
			if v.Expect == "pcr_mismatch" {
				if len(rep.Error.PCRMismatches) == 0 {
					t.Error("no pcr_mismatches")
				}
				for _, pm := range rep.Error.PCRMismatches {
					if !strings.Contains(stderr, "PCR"+strconv.Itoa(pm.Index)+" ") {
						t.Errorf("stderr does not list PCR%d", pm.Index)
					}
				}
			}
			if code, _, _ := run(t, "", vectorArgs(dir, &v)[1:]...); code != ExitRejected {
				t.Errorf("without --json: exit %d", code)
			}
		})
	}
}

func TestRunPCRMismatchAll(t *testing.T) {
	dir := writeVectors(t)
	zero := strings.Repeat("00", 48)
	ff := strings.Repeat("ff", 48)
	code, stdout, stderr := run(t, "", "--json", "--root", filepath.Join(dir, "root.pem"), "--at", "2026-01-01T00:10:30Z",
		"--pcr", "0="+ff, "--pcr", "PCR2="+ff, "--pcr", "5="+zero, "--pcr", "20="+zero, filepath.Join(dir, "valid_indefinite.cbor"))
	if code != ExitRejected {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var rep Report
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatal(err)
	}
	got := rep.Error.PCRMismatches
	if len(got) != 3 || got[0].Index != 0 || got[1].Index != 2 || got[2].Index != 20 || got[2].Actual != nil ||
		got[0].Expected != ff || got[0].Actual == nil || len(*got[0].Actual) != 96 {
		t.Fatalf("pcr_mismatches %+v", got)
	}
	if !strings.Contains(stderr, "PCR20 expected "+zero+"\n        actual   absent") {
		t.Errorf("stderr:\n%s", stderr)
	}
	if rep.Document == nil || len(rep.Document.PCRs) != 16 || rep.Document.PCRs[5].Match == nil || !*rep.Document.PCRs[5].Match {
		t.Errorf("document PCRs %+v", rep.Document)
	}
}

func TestRunAtDocument(t *testing.T) {
	dir := writeVectors(t)
	f := filepath.Join(dir, "valid_indefinite.cbor")
	root := filepath.Join(dir, "root.pem")
	if code, _, stderr := run(t, "", "--root", root, f); code != ExitRejected || !strings.Contains(stderr, "certificate_expired") ||
		!strings.Contains(stderr, "hint: ") || !strings.Contains(stderr, "--at document") {
		t.Fatalf("at now: exit %d %s", code, stderr)
	}
	code, stdout, stderr := run(t, "", "--root", root, "--at", "document", f)
	if code != ExitVerified || stderr != "" {
		t.Fatalf("at document: exit %d %s", code, stderr)
	}
	for _, want := range []string{"Verified", "Module ID", "Timestamp    2026-01-01T00:10:00Z", "PCR0 ", "PCR15",
		"cabundle[0] root", "CN=emulator.nitro-enclaves", "valid 2026-01-01T00:00:00Z to 2026-01-01T03:00:00Z"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("report lacks %q:\n%s", want, stdout)
		}
	}
	// --max-age is measured against now even with --at document.
	if code, _, stderr := run(t, "", "--root", root, "--at", "document", "--max-age", "24h", f); code != ExitRejected ||
		!strings.Contains(stderr, "too_old") {
		t.Errorf("at document with max age: exit %d %s", code, stderr)
	}
}

func TestRunInputs(t *testing.T) {
	dir := writeVectors(t)
	raw, err := os.ReadFile(filepath.Join(dir, "valid_definite.cbor"))
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"--root", filepath.Join(dir, "root.pem"), "--at", "2026-01-01T00:10:30Z"}
	for _, in := range []string{string(raw), "  " + strings.ToUpper(hexs(raw)) + "\n", b64(raw)} {
		if code, _, stderr := run(t, in, args...); code != ExitVerified {
			t.Errorf("stdin: exit %d %s", code, stderr)
		}
		if code, _, stderr := run(t, in, append(args, "-")...); code != ExitVerified {
			t.Errorf("stdin as -: exit %d %s", code, stderr)
		}
	}
	// Flags may follow the file.
	if code, _, stderr := run(t, "", append([]string{filepath.Join(dir, "valid_definite.cbor")}, args...)...); code != ExitVerified {
		t.Errorf("flags after the file: exit %d %s", code, stderr)
	}
	code, stdout, stderr := run(t, "hello, world", append(args, "--json")...)
	if code != ExitRejected || !strings.Contains(stderr, "error: malformed: ") || !strings.Contains(stdout, `"code": "malformed"`) ||
		strings.Contains(stdout, `"document"`) {
		t.Errorf("garbage: exit %d %s %s", code, stdout, stderr)
	}
	if code, _, stderr := run(t, strings.Repeat("A", MaxInput+1), args...); code != ExitRejected || !strings.Contains(stderr, "larger than") {
		t.Errorf("oversized: exit %d %s", code, stderr)
	}
	if code, _, stderr := run(t, "", args...); code != ExitRejected || !strings.Contains(stderr, "empty input") {
		t.Errorf("empty: exit %d %s", code, stderr)
	}
}

func TestRunUsage(t *testing.T) {
	dir := writeVectors(t)
	doc := filepath.Join(dir, "valid_indefinite.cbor")
	pcrsEIF := filepath.Join(dir, "eif.json")
	os.WriteFile(pcrsEIF, []byte(`{"EifVersion":4,"Measurements":{"HashAlgorithm":"Sha384 { ... }","PCR0":"`+strings.Repeat("aa", 48)+`"}}`), 0o644)
	pcrsBad := filepath.Join(dir, "bad.json")
	os.WriteFile(pcrsBad, []byte(`{"PCR0":"`+strings.Repeat("aa", 48)+`","Extra":"x"}`), 0o644)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown flag", []string{"--bogus", doc}, "nitro-verify: error: unknown flag --bogus\n"},
		{"two files", []string{doc, doc}, "one input file at most"},
		{"bad --at", []string{"--at", "yesterday", doc}, "--at"},
		{"negative --max-age", []string{"--max-age", "-5m", doc}, "must not be negative"},
		{"bad --max-age", []string{"--max-age", "5 minutes", doc}, "nitro-verify: error: --max-age \"5 minutes\": want a duration such as 5m\n"},
		{"bad --pcr", []string{"--pcr", "0:aa", doc}, "want N=HEX"},
		{"--pcr index", []string{"--pcr", "32=" + strings.Repeat("aa", 48), doc}, "0 to 31"},
		{"--pcr size", []string{"--pcr", "0=" + strings.Repeat("aa", 47), doc}, "47 bytes"},
		{"--pcr conflict", []string{"--pcr", "0=" + strings.Repeat("aa", 48), "--pcr", "0=" + strings.Repeat("bb", 48), doc}, "twice"},
		{"--pcr vs --pcrs", []string{"--pcr", "0=" + strings.Repeat("bb", 48), "--pcrs", pcrsEIF, doc}, "twice"},
		{"--pcrs unknown key", []string{"--pcrs", pcrsBad, doc}, `unexpected key "Extra"`},
		{"--pcrs missing", []string{"--pcrs", filepath.Join(dir, "nope.json"), doc}, "no such file"},
		{"--nonce not hex", []string{"--nonce", "xyz", doc}, "not hex"},
		{"--root missing", []string{"--root", filepath.Join(dir, "nope.pem"), doc}, "no such file"},
		{"--root not PEM", []string{"--root", doc, doc}, "no PEM certificate"},
		{"unreadable file", []string{filepath.Join(dir, "nope.cbor")}, "no such file"},
		{"directory", []string{dir}, "is a directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := run(t, "", tc.args...)
			if code != ExitUsage || stdout != "" || !strings.HasPrefix(stderr, "nitro-verify: error: ") || !strings.Contains(stderr, tc.want) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit 2 with %q", code, stdout, stderr, tc.want)
			}
		})
	}
	code, stdout, _ := run(t, "", "--help")
	if code != 0 || !strings.HasPrefix(stdout, "Usage: nitro-verify") {
		t.Errorf("--help: exit %d %q", code, stdout)
	}
	code, stdout, _ = run(t, "", "--version")
	if code != 0 || !strings.HasPrefix(stdout, "nitro-verify ") || !strings.Contains(stdout, "go1.") {
		t.Errorf("--version: exit %d %q", code, stdout)
	}
	// describe-eif output is accepted and its PCR0 compared.
	code, _, stderr := run(t, "", "--root", filepath.Join(dir, "root.pem"), "--at", "document", "--pcrs", pcrsEIF, doc)
	if code != ExitRejected || !strings.Contains(stderr, "pcr_mismatch") {
		t.Errorf("--pcrs describe-eif: exit %d %s", code, stderr)
	}
}

func TestReadPCRsFile(t *testing.T) {
	dir := t.TempDir()
	v0, v1 := strings.Repeat("0a", 48), strings.Repeat("1B", 48)
	for name, content := range map[string]string{
		"flat.json": `{"PCR0":"` + v0 + `","PCR1":"` + v1 + `"}`,
		"eif.json":  `{"Measurements":{"HashAlgorithm":"Sha384 { ... }","PCR0":"` + v0 + `","PCR1":"` + v1 + `"},"IsSigned":false}`,
	} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		m, measurements, err := readPCRsFile(p)
		if err != nil || len(m) != 2 || hexs(m[0]) != v0 || hexs(m[1]) != strings.ToLower(v1) {
			t.Errorf("%s: %x %v", name, m, err)
		}
		if measurements != (name == "eif.json") {
			t.Errorf("%s: measurements %v", name, measurements)
		}
	}
	for name, content := range map[string]string{
		"array.json":   `["PCR0"]`,
		"empty.json":   `{"Measurements":{"HashAlgorithm":"x"}}`,
		"number.json":  `{"PCR0":1}`,
		"index.json":   `{"PCR00":"` + v0 + `"}`,
		"badhex.json":  `{"PCR0":"zz"}`,
		"measarr.json": `{"Measurements":[1]}`,
	} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if m, _, err := readPCRsFile(p); err == nil {
			t.Errorf("%s: accepted as %x", name, m)
		}
	}
}

// FuzzRun feeds arbitrary input to the whole CLI with --json: it must exit
// 0 or 1 (never 2, never panic), and stdout must be a JSON report that
// agrees with the exit code.
func FuzzRun(f *testing.F) {
	dir := f.TempDir()
	root := filepath.Join(dir, "root.pem")
	pemBytes, err := fs.ReadFile(testvectors.FS, "root.pem")
	if err != nil {
		f.Fatal(err)
	}
	if err := os.WriteFile(root, pemBytes, 0o644); err != nil {
		f.Fatal(err)
	}
	files, _ := fs.Glob(testvectors.FS, "*.cbor")
	for _, name := range files {
		b, err := fs.ReadFile(testvectors.FS, name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var out, errb bytes.Buffer
		code := Run([]string{"--json", "--root", root, "--at", "2026-01-01T00:10:30Z", "--allow-debug"},
			bytes.NewReader(in), &out, &errb, testNow)
		if code != ExitVerified && code != ExitRejected {
			t.Fatalf("exit %d: %s", code, errb.String())
		}
		var rep Report
		if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
			t.Fatalf("stdout is not JSON: %v", err)
		}
		if rep.Verified != (code == ExitVerified) || (rep.Error == nil) != rep.Verified {
			t.Fatalf("exit %d but report verified=%v error=%v", code, rep.Verified, rep.Error)
		}
		if rep.Error != nil && rep.Error.Code == "" {
			t.Fatalf("rejection without a code: %s", errb.String())
		}
	})
}

// TestPlainMessage: the Go package prefixes of the libraries are dropped
// wherever a wrapped message starts, and kept inside quoted text (a
// server's own words).
func TestPlainMessage(t *testing.T) {
	for in, want := range map[string]string{
		"attestedtls: reading the challenge answer: unexpected EOF":                                  "reading the challenge answer: unexpected EOF",
		"context deadline exceeded (attestedtls: reading the challenge answer: i/o timeout)":         "context deadline exceeded (reading the challenge answer: i/o timeout)",
		"attestedtls: the challenge document: attestation: nonce mismatch: 32 bytes":                 "the challenge document: nonce mismatch: 32 bytes",
		`attestedtls: attestation challenge failed: HTTP 500: "attestedtls: down \" attestation: x"`: `attestation challenge failed: HTTP 500: "attestedtls: down \" attestation: x"`,
		"dial tcp 127.0.0.1:1: connect: connection refused":                                          "dial tcp 127.0.0.1:1: connect: connection refused",
		"attestation challenge failed: HTTP 404":                                                     "attestation challenge failed: HTTP 404",
	} {
		if got := plainMessage(in); got != want {
			t.Errorf("plainMessage(%q)\n got %q\nwant %q", in, got, want)
		}
	}
}
