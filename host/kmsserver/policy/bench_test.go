// SPDX-License-Identifier: Apache-2.0

package policy

import (
	"os"
	"testing"
)

func BenchmarkParse(b *testing.B) {
	doc, err := os.ReadFile("testdata/enclave_pcrs.json")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(doc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEvaluate is the per-request cost in kms-server: an attested
// Decrypt against a policy with an admin statement and a three-PCR
// condition, including building the condition-key context.
func BenchmarkEvaluate(b *testing.B) {
	p := mustParseFile(b, "enclave_pcrs.json")
	pcrs := map[int][]byte{0: mustHex(image), 1: mustHex(pcr1), 2: mustHex(pcr2), 3: make([]byte, 48), 4: make([]byte, 48), 8: make([]byte, 48)}
	b.ReportAllocs()
	for b.Loop() {
		ctx := AddAttestation(nil, pcrs)
		d := p.Evaluate(Request{Principal: role, Action: "kms:Decrypt", Resource: keyARN, Context: ctx})
		if !d.Allowed {
			b.Fatal(d.Reason)
		}
	}
}

// BenchmarkEvaluateDenied includes formatting the reason.
func BenchmarkEvaluateDenied(b *testing.B) {
	p := mustParseFile(b, "enclave_pcrs.json")
	ctx := AddAttestation(nil, map[int][]byte{0: mustHex(pcr1), 1: mustHex(pcr1), 2: mustHex(pcr2)})
	b.ReportAllocs()
	for b.Loop() {
		d := p.Evaluate(Request{Principal: role, Action: "kms:Decrypt", Resource: keyARN, Context: ctx})
		if d.Allowed {
			b.Fatal("allowed")
		}
	}
}

// BenchmarkEvaluateIdentity is the second evaluation kms-server makes per
// request: the caller's identity policy (kms-server init's parent-role:
// an Allow and a Deny unless attested) on the same request.
func BenchmarkEvaluateIdentity(b *testing.B) {
	p, err := ParseIdentity([]byte(`{"Version":"2012-10-17","Statement":[
		{"Sid":"DataKeysForEnclaves","Effect":"Allow","Action":["kms:GenerateDataKey","kms:Decrypt"],"Resource":"arn:aws:kms:*:111122223333:key/*"},
		{"Sid":"OnlyWithAttestation","Effect":"Deny","Action":"kms:*","Resource":"*","Condition":{"Null":{"kms:RecipientAttestation:ImageSha384":"true"}}}]}`))
	if err != nil {
		b.Fatal(err)
	}
	pcrs := map[int][]byte{0: mustHex(image), 1: mustHex(pcr1), 2: mustHex(pcr2), 3: make([]byte, 48), 4: make([]byte, 48), 8: make([]byte, 48)}
	ctx := AddAttestation(nil, pcrs)
	b.ReportAllocs()
	for b.Loop() {
		d := p.Evaluate(Request{Principal: role, Action: "kms:Decrypt", Resource: keyARN, Context: ctx})
		if !d.Allowed {
			b.Fatal(d.Reason)
		}
	}
}
