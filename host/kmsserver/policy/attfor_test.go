// SPDX-License-Identifier: Apache-2.0

package policy

import (
	"reflect"
	"strings"
	"testing"
)

// attForPolicies read attestation keys every way a policy can: each kind
// of operator (positive, negated, Null, IfExists, set prefixes), keys in
// other letter cases, keys the document lacks, keys of the other kind of
// document, in Allow and Deny statements.
var attForPolicies = []string{
	stmt(base),
	stmt(base + `,"Condition":{"StringEqualsIgnoreCase":{"kms:RecipientAttestation:ImageSha384":"` + strings.Repeat("00", 48) + `"}}`),
	stmt(base + `,"Condition":{"StringEquals":{"KMS:recipientattestation:pcr3":"` + strings.Repeat("03", 48) + `"}}`),
	stmt(base + `,"Condition":{"StringEquals":{"kms:RecipientAttestation:PCR0":"` + strings.Repeat("00", 48) + `","kms:RecipientAttestation:PCR8":"` + strings.Repeat("08", 48) + `"}}`),
	stmt(base + `,"Condition":{"StringEquals":{"kms:RecipientAttestation:PCR31":"00"}}`),
	stmt(base + `,"Condition":{"StringNotEquals":{"kms:RecipientAttestation:PCR20":"00"}}`),
	stmt(base + `,"Condition":{"StringLikeIfExists":{"kms:RecipientAttestation:PCR5":"05*"}}`),
	stmt(base + `,"Condition":{"Null":{"kms:RecipientAttestation:PCR5":"true"}}`),
	stmt(base + `,"Condition":{"Null":{"kms:RecipientAttestation:ImageSha384":"false"}}`),
	stmt(base + `,"Condition":{"ForAnyValue:StringEquals":{"kms:RecipientAttestation:PCR1":["01","` + strings.Repeat("01", 48) + `"]}}`),
	stmt(base + `,"Condition":{"StringEqualsIgnoreCase":{"kms:RecipientAttestation:NitroTPMPCR4":"` + strings.Repeat("04", 48) + `"}}`),
	stmt(base + `,"Condition":{"StringEquals":{"kms:RecipientAttestation:NitroTPMPCR23":"17","kms:RecipientAttestation:NitroTPMPCR0":"` + strings.Repeat("00", 48) + `"}}`),
	stmt(base + `,"Condition":{"Null":{"kms:RecipientAttestation:NitroTPMPCR7":"false"}}`),
	`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"},
	 {"Sid":"OnlyImage","Effect":"Deny","Principal":"*","Action":"kms:Decrypt","Resource":"*",
	  "Condition":{"StringNotEqualsIgnoreCase":{"kms:RecipientAttestation:ImageSha384":"` + strings.Repeat("00", 48) + `"}}},
	 {"Sid":"NoDebugTPM","Effect":"Deny","Principal":"*","Action":"kms:Decrypt","Resource":"*",
	  "Condition":{"StringEquals":{"kms:RecipientAttestation:NitroTPMPCR7":"` + strings.Repeat("07", 48) + `"}}}]}`,
}

// attForDocuments are the PCRs of documents: a whole enclave document,
// one without PCR0, one with only high PCRs, an empty one.
var attForDocuments = []map[int][]byte{
	pcrRange(0, 16),
	pcrRange(1, 9),
	{20: {0x20}, 31: pcrValue(31)},
	{},
	{0: {}, 3: pcrValue(3), 23: pcrValue(23)},
}

func pcrValue(i int) []byte {
	v := make([]byte, 48)
	for j := range v {
		v[j] = byte(i)
	}
	return v
}

func pcrRange(from, to int) map[int][]byte {
	m := make(map[int][]byte, to-from)
	for i := from; i < to; i++ {
		m[i] = pcrValue(i)
	}
	return m
}

// checkAttFor checks that the policies ps decide a request with only the
// keys AddAttestationFor (AddNitroTPMAttestationFor) adds exactly as with
// every key of the document: the same Decision, reason included.
func checkAttFor(t *testing.T, pcrs map[int][]byte, ps ...*Policy) {
	t.Helper()
	for _, tpm := range []bool{false, true} {
		full := AddAttestation(map[string][]string{"aws:SecureTransport": {"true"}}, pcrs)
		some := AddAttestationFor(map[string][]string{"aws:SecureTransport": {"true"}}, pcrs, ps...)
		if tpm {
			full = AddNitroTPMAttestation(nil, pcrs)
			some = AddNitroTPMAttestationFor(nil, pcrs, ps...)
		}
		for k, v := range some {
			if !reflect.DeepEqual(full[k], v) {
				t.Fatalf("tpm=%v: key %s is %q, want %q", tpm, k, v, full[k])
			}
		}
		for _, p := range ps {
			r := Request{Principal: role, Action: "kms:Decrypt", Resource: keyARN}
			r.Context = full
			want := p.Evaluate(r)
			r.Context = some
			if got := p.Evaluate(r); !reflect.DeepEqual(got, want) {
				t.Fatalf("tpm=%v, PCRs %v: decision %+v with the keys the policy reads, %+v with all", tpm, keysOf(pcrs), got, want)
			}
		}
	}
}

func keysOf(pcrs map[int][]byte) []int {
	var ks []int
	for k := range pcrs {
		ks = append(ks, k)
	}
	return ks
}

// TestAttestationForDecidesAsAll holds AddAttestationFor and
// AddNitroTPMAttestationFor to the promise the request path relies on:
// the policies they are given decide as with every key of the document.
func TestAttestationForDecidesAsAll(t *testing.T) {
	var parsed []*Policy
	for _, doc := range attForPolicies {
		parsed = append(parsed, mustParse(t, doc))
	}
	for _, pcrs := range attForDocuments {
		for i, p := range parsed {
			checkAttFor(t, pcrs, p)
			checkAttFor(t, pcrs, p, parsed[(i+3)%len(parsed)])
			checkAttFor(t, pcrs, nil, p)
		}
	}
}

// TestAttestationForAddsOnlyWhatIsRead: a policy without attestation
// conditions gets one key, the marker of the lowest PCR; one reading
// ImageSha384 and PCR8 gets those (and the marker); nil policies read
// nothing.
func TestAttestationForAddsOnlyWhatIsRead(t *testing.T) {
	pcrs := pcrRange(0, 16)
	none := mustParse(t, stmt(base))
	if got := AddAttestationFor(nil, pcrs, none, nil); len(got) != 1 || got[PCRKey(0)] == nil {
		t.Errorf("no attestation conditions: %v", got)
	}
	if got := AddAttestationFor(nil, pcrRange(4, 9), nil); len(got) != 1 || got[PCRKey(4)] == nil {
		t.Errorf("nil policy, PCRs 4-8: %v", got)
	}
	reads := mustParse(t, attForPolicies[1]+"")
	pcr8 := mustParse(t, stmt(base+`,"Condition":{"StringEquals":{"kms:RecipientAttestation:PCR8":"08"}}`))
	got := AddAttestationFor(nil, pcrs, reads, pcr8)
	if len(got) != 3 || got[KeyImageSha384] == nil || got[PCRKey(8)] == nil || got[PCRKey(0)] == nil {
		t.Errorf("ImageSha384 and PCR8 read: %v", got)
	}
	if got := AddNitroTPMAttestationFor(nil, pcrRange(2, 24), mustParse(t, attForPolicies[10])); len(got) != 2 ||
		got[NitroTPMPCRKey(2)] == nil || got[NitroTPMPCRKey(4)] == nil {
		t.Errorf("NitroTPMPCR4 read: %v", got)
	}
	if got := AddAttestationFor(nil, map[int][]byte{}, reads); len(got) != 0 {
		t.Errorf("no PCRs: %v", got)
	}
}

// FuzzAttestationForDecidesAsAll runs TestAttestationForDecidesAsAll's
// check on fuzzed policies and PCR sets.
func FuzzAttestationForDecidesAsAll(f *testing.F) {
	for _, doc := range attForPolicies {
		f.Add([]byte(doc), uint32(0xffff), uint32(3))
	}
	f.Fuzz(func(t *testing.T, doc []byte, have, empty uint32) {
		p, err := Parse(doc)
		if err != nil {
			return
		}
		pcrs := map[int][]byte{}
		for i := range 32 {
			switch {
			case have&(1<<i) == 0:
			case empty&(1<<i) != 0:
				pcrs[i] = []byte{}
			default:
				pcrs[i] = pcrValue(i)
			}
		}
		checkAttFor(t, pcrs, p)
	})
}
