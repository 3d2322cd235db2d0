// SPDX-License-Identifier: Apache-2.0

package kmsserver

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
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
