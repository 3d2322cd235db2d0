// SPDX-License-Identifier: Apache-2.0

package kmsserver

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// FuzzAuditLineMatchesEncodingJSON holds encodeAuditLine (goccy/go-json)
// to encoding/json's bytes for every kind of audit line: strings with HTML
// characters, control characters, U+2028/U+2029 and invalid UTF-8 (error
// messages and policy reasons quote what the client sent), with an
// enclave or a NitroTPM recipient record (whose MarshalJSON output
// encoding/json compacts and escapes).
func FuzzAuditLineMatchesEncodingJSON(f *testing.F) {
	f.Add("2026-12-07T07:00:00.123456789Z", "GenerateDataKey", "arn:aws:iam::111122223333:role/r", `condition StringEquals kms:EncryptionContext:a: expected "<b>&", presented "x"`, "i-0123-enc0123", "ab01", uint8(0))
	f.Add("", "", "", "\xff\xfe\u2028\u2029\x00\x1f\x7f\"\\/", "<script>", "\xed\xa0\x80", uint8(1))
	f.Add("t", "Decrypt", "p", "é\t\n\r", "\u2028", "", uint8(2))
	f.Fuzz(checkAuditLine)
}

// TestAuditLineMatchesEncodingJSON runs FuzzAuditLineMatchesEncodingJSON's
// check on random strings over an alphabet of the bytes JSON encoders
// treat specially (the fuzzing engine stalls on this package here).
func TestAuditLineMatchesEncodingJSON(t *testing.T) {
	alphabet := []string{"a", "é", "<", ">", "&", "\"", "\\", "/", "\x00", "\x1f", "\x7f", "\t", "\n", "\u2028", "\u2029",
		"\xff", "\xc3", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\U0001F600", "\ufffd", "%", "{", "}"}
	rng := rand.New(rand.NewPCG(18, 7))
	str := func() string {
		var b strings.Builder
		for range rng.IntN(12) {
			b.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		return b.String()
	}
	for range 3000 {
		checkAuditLine(t, str(), str(), str(), str(), str(), str(), uint8(rng.IntN(3)))
	}
}

func checkAuditLine(t *testing.T, tm, op, principal, reason, module, pcr string, kind uint8) {
	t.Helper()
	{
		ev := &auditEvent{Time: tm, RequestID: reason, Operation: op, Principal: principal, AccessKeyID: module,
			SourceIP: pcr, KeyARN: principal + op, ErrorMessage: reason + module, PolicyReason: reason}
		ev.finish(op, nil)
		switch kind % 3 {
		case 1:
			ev.AdditionalEventData = &additionalEventData{Recipient: &auditRecipient{AttestationDocumentModuleID: module, AttestationDocumentEnclaveImageDigest: pcr}}
		case 2:
			ev.AdditionalEventData = &additionalEventData{Recipient: &auditNitroTPMRecipient{moduleID: module, pcrs: map[int]string{0: pcr, 7: reason, 23: module}}}
		}
		var got, want bytes.Buffer
		if err := encodeAuditLine(&got, ev); err != nil {
			t.Fatal(err)
		}
		if err := json.NewEncoder(&want).Encode(ev); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Fatalf("audit line\n%q, encoding/json writes\n%q", got.Bytes(), want.Bytes())
		}
	}
}

// rawRequest writes a POST / with the given header lines (in order) and
// body on a fresh connection to env and returns the status line.
func rawRequest(t *testing.T, env *testEnv, headers [][2]string, body string) string {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(env.ts.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var req strings.Builder
	req.WriteString("POST / HTTP/1.1\r\nHost: kms\r\n")
	for _, h := range headers {
		req.WriteString(h[0] + ": " + h[1] + "\r\n")
	}
	req.WriteString("Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body)
	if _, err := io.WriteString(c, req.String()); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(time.Minute)) // only turns a hang into a failure
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	return strings.TrimSpace(line)
}

// TestAuditLineOfUnauthenticatedRequestBounded: whoever reaches the
// listener, with no key, chooses the X-Amz-Target, the Authorization
// header (its access key ID, scope, signed header names) and X-Amz-Date.
// Before, they went into the unauthenticated request's audit line
// unchecked, each invalid UTF-8 byte as a 6-byte \ufffd: a 14 KB request
// wrote an 84 KB line, so a flood filled the disk and, the audit log
// failing closed, every request then failed (found by review). Now such a
// line is at most maxUnauthAuditLine bytes whatever the headers; the
// operation is recorded only when it is one, the access key ID only when
// it has an access key ID's shape.
func TestAuditLineOfUnauthenticatedRequestBounded(t *testing.T) {
	const maxUnauthAuditLine = 2 << 10
	env := newEnv(t, nil)
	junk := strings.Repeat("\xff", 9000)
	date := time.Now().UTC().Format(amzDateFormat)
	cred := func(akid, day, region, service string) string {
		return "AWS4-HMAC-SHA256 Credential=" + akid + "/" + day + "/" + region + "/" + service + "/aws4_request, SignedHeaders=host;x-amz-date;x-amz-target, Signature=00"
	}
	ct := [2]string{"Content-Type", "application/x-amz-json-1.1"}
	listKeys := [2]string{"X-Amz-Target", "TrentService.ListKeys"}
	for _, tc := range []struct {
		name    string
		headers [][2]string
		code    string
		op      string // the operation recorded
		akid    string // the access key ID recorded
	}{
		{"junk target, no Authorization", [][2]string{ct, {"X-Amz-Target", "TrentService." + junk}},
			CodeMissingAuthToken, "unknown", ""},
		{"junk target, junk access key ID", [][2]string{ct, {"X-Amz-Target", "TrentService." + junk},
			{"Authorization", cred(junk, date[:8], "us-east-1", "kms")}},
			CodeUnrecognizedClient, "unknown", "(malformed)"},
		{"long access key ID of the right alphabet", [][2]string{ct, listKeys,
			{"Authorization", cred(strings.Repeat("A", 9000), date[:8], "us-east-1", "kms")}},
			CodeUnrecognizedClient, "ListKeys", "(malformed)"},
		{"unknown access key ID", [][2]string{ct, listKeys,
			{"Authorization", cred("AKIAUNKNOWN000000000", date[:8], "us-east-1", "kms")}},
			CodeUnrecognizedClient, "ListKeys", "AKIAUNKNOWN000000000"},
		{"junk date", [][2]string{ct, listKeys, {"X-Amz-Date", junk},
			{"Authorization", cred(testAKID, date[:8], "us-east-1", "kms")}},
			CodeIncompleteSignature, "ListKeys", testAKID},
		{"junk scope date", [][2]string{ct, listKeys, {"X-Amz-Date", date},
			{"Authorization", cred(testAKID, junk, "us-east-1", "kms")}},
			CodeInvalidSignature, "ListKeys", testAKID},
		{"junk region", [][2]string{ct, listKeys, {"X-Amz-Date", date},
			{"Authorization", cred(testAKID, date[:8], junk, "kms")}},
			CodeInvalidSignature, "ListKeys", testAKID},
		{"junk signed header", [][2]string{ct, listKeys, {"X-Amz-Date", date},
			{"Authorization", "AWS4-HMAC-SHA256 Credential=" + testAKID + "/" + date[:8] + "/us-east-1/kms/aws4_request, SignedHeaders=host;x-" + strings.Repeat("\x7e", 9000) + ", Signature=00"}},
			CodeInvalidSignature, "ListKeys", testAKID},
		{"junk Content-Type", [][2]string{{"Content-Type", junk}, {"X-Amz-Target", "TrentService." + junk}},
			CodeSerialization, "unknown", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(env.audit.String())
			status := rawRequest(t, env, tc.headers, "{}")
			line := env.audit.String()[before:]
			if !strings.HasPrefix(status, "HTTP/1.1 400") {
				t.Fatalf("answered %q", status)
			}
			if len(line) > maxUnauthAuditLine {
				t.Fatalf("audit line of %d bytes, want at most %d:\n%.300s...", len(line), maxUnauthAuditLine, line)
			}
			var ev map[string]any
			if err := json.Unmarshal([]byte(line), &ev); err != nil {
				t.Fatalf("audit line %q: %v", line, err)
			}
			if ev["errorCode"] != tc.code || ev["decision"] == "allow" {
				t.Errorf("audit line %s, want errorCode %s", line, tc.code)
			}
			if ev["operation"] != tc.op {
				t.Errorf("operation %q, want %q", ev["operation"], tc.op)
			}
			if got, _ := ev["accessKeyId"].(string); got != tc.akid {
				t.Errorf("accessKeyId %q, want %q", got, tc.akid)
			}
		})
	}
}
