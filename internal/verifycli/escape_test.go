// SPDX-License-Identifier: Apache-2.0

package verifycli

import (
	"bytes"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/enclavekit/enclavekit/attestation"
	"github.com/enclavekit/enclavekit/internal/attestationtest"
)

// hostileModuleID clears the screen, prints a fake verdict, sets the
// terminal's title (C0 escapes) and starts a C1 CSI (U+009B), which some
// terminals take as ESC [.
const hostileModuleID = "i-x\x1b[2J\x1b[HVerified: i-FAKE\x1b]0;pwned\x07\u009b31mRED\x7f"

// hostileDocument is an emulator-signed document whose module_id is
// hostileModuleID, and the --root file that verifies it.
func hostileDocument(t *testing.T, nitroTPM bool) (doc, root string) {
	t.Helper()
	fx := attestationtest.New(t, testNow)
	dir := t.TempDir()
	root = filepath.Join(dir, "root.pem")
	if err := os.WriteFile(root, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: fx.Chain.Root.Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	var b []byte
	if nitroTPM {
		b = fx.NitroTPMDocument(t, func(d *attestation.NitroTPMDocument) { d.ModuleID = hostileModuleID })
	} else {
		b = fx.Document(t, func(d *attestation.Document) { d.ModuleID = hostileModuleID })
	}
	doc = filepath.Join(dir, "doc.cbor")
	if err := os.WriteFile(doc, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return doc, root
}

// hasControl reports whether s holds a C0 or C1 control character other
// than newline, or DEL.
func hasControl(s string) bool {
	for _, r := range s {
		if (r < 0x20 && r != '\n') || (r >= 0x7f && r <= 0x9f) {
			return true
		}
	}
	return false
}

// TestVerifyTextEscapesControls checks that the text report of a verified
// document shows its module_id with its control characters escaped: before,
// it was written raw, so a document could clear the terminal and print its
// own verdict (found by review).
func TestVerifyTextEscapesControls(t *testing.T) {
	for _, nitroTPM := range []bool{false, true} {
		doc, root := hostileDocument(t, nitroTPM)
		args := []string{"--root", root, doc}
		if nitroTPM {
			args = append([]string{"--nitrotpm"}, args...)
		}
		code, out, stderr := run(t, "", args...)
		if code != ExitVerified {
			t.Fatalf("nitrotpm %v: exit %d: %s", nitroTPM, code, stderr)
		}
		if hasControl(out) || hasControl(stderr) {
			t.Errorf("nitrotpm %v: control characters in the report:\n%q", nitroTPM, out)
		}
		want := `Module ID    i-x\x1b[2J\x1b[HVerified: i-FAKE\x1b]0;pwned\a\u009b31mRED\x7f` + "\n"
		if !strings.Contains(out, want) {
			t.Errorf("nitrotpm %v: no line %q in\n%s", nitroTPM, want, out)
		}
	}
}

// TestVerifyTextEscapesSubject checks the certificate lines: x509's
// pkix.Name.String does not escape control characters.
func TestVerifyTextEscapesSubject(t *testing.T) {
	var b bytes.Buffer
	c := &x509.Certificate{Subject: pkix.Name{CommonName: "leaf\x1b[2J\u009b1m"}}
	chainLine(&b, "leaf", c)
	if hasControl(b.String()) || !strings.Contains(b.String(), `CN=leaf\x1b[2J\u009b1m`) {
		t.Errorf("chain line %q", b.String())
	}
}

// TestVerifyJSONEscapesC1 checks that the --json report escapes C1
// control characters (encoding/json escapes C0 ones but writes U+0080-
// U+009F raw) and DEL, stays valid JSON and gives the module_id back
// exactly.
func TestVerifyJSONEscapesC1(t *testing.T) {
	doc, root := hostileDocument(t, false)
	code, out, stderr := run(t, "", "--json", "--root", root, doc)
	if code != ExitVerified {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if hasControl(out) {
		t.Errorf("control characters in the report:\n%q", out)
	}
	if !strings.Contains(out, `\u009b31mRED\u007f`) {
		t.Errorf("module_id not escaped as \\u009b and \\u007f:\n%s", out)
	}
	var rep Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	if rep.Document == nil || rep.Document.ModuleID != hostileModuleID {
		t.Errorf("module_id does not round-trip: %+v", rep.Document)
	}
}

func TestVerifyEscapeJSONControls(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"a":"b"}`, `{"a":"b"}`},
		{"{\"a\":\"\u0080\u009b\u009f\u00a0é\x7f\"}", `{"a":"\u0080\u009b\u009f` + "\u00a0é" + `\u007f"}`},
		{"\"\u009b\"", `"\u009b"`},
		// Bidirectional formatting characters reorder what a terminal
		// shows (quote.Controls escapes them in the text report too).
		{"{\"module_id\":\"i-0abc\u202edcba\u2066\u2069\u200e\u061c\"}", `{"module_id":"i-0abc\u202edcba\u2066\u2069\u200e\u061c"}`},
	} {
		got := escapeJSONControls([]byte(tc.in))
		if string(got) != tc.want {
			t.Errorf("%q: got %q, want %q", tc.in, got, tc.want)
		}
		var a, b any
		if err := json.Unmarshal([]byte(tc.in), &a); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(got, &b); err != nil {
			t.Fatalf("%q: %v", got, err)
		}
		if ja, _ := json.Marshal(a); !bytes.Equal(ja, mustMarshal(t, b)) {
			t.Errorf("%q: means something else after escaping", tc.in)
		}
	}
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
