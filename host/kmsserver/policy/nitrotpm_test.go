// SPDX-License-Identifier: Apache-2.0

package policy

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// tpmPCR4 and tpmPCR7 are the NitroTPM PCRs the testdata NitroTPM policy
// pins (the AWS guide's example pins PCR4 and PCR7: the boot loader and
// Secure Boot state).
var (
	tpmPCR4 = strings.Repeat("a4b4", 24)
	tpmPCR7 = strings.Repeat("c7d7", 24)
)

func nitroTPMAttested(pcr4, pcr7 string) map[string][]string {
	return AddNitroTPMAttestation(nil, map[int][]byte{0: make([]byte, 48), 4: mustHex(pcr4), 7: mustHex(pcr7), 23: {0xff}})
}

// The AWS guide's NitroTPM example: "kms:RecipientAttestation:NitroTPMPCR4"
// with StringEqualsIgnoreCase; without a NitroTPM attestation document the
// permission is denied.
func TestAWSDocNitroTPMPCR(t *testing.T) {
	p := mustParseFile(t, "nitrotpm_pcrs.json")
	runDocCases(t, p, []docCase{
		{"matching PCR4 and PCR7", role, "kms:Decrypt", nitroTPMAttested(tpmPCR4, tpmPCR7), true, false},
		{"upper-case presented value", role, "kms:Decrypt", ctxOf("kms:RecipientAttestation:NitroTPMPCR4", strings.ToUpper(tpmPCR4), "kms:RecipientAttestation:NitroTPMPCR7", tpmPCR7), true, false},
		{"other PCR7", role, "kms:Decrypt", nitroTPMAttested(tpmPCR4, pcr1), false, false},
		{"no document", role, "kms:Decrypt", nil, false, false},
		{"enclave document with the same values", role, "kms:Decrypt",
			AddAttestation(nil, map[int][]byte{4: mustHex(tpmPCR4), 7: mustHex(tpmPCR7)}), false, false},
	})
}

// TestAttestationKindsDoNotMix is the attack of a parent instance that
// presents its own NitroTPM document to a key pinned to an enclave image,
// and the reverse: even with PCR values equal to the pinned ones, a key of
// the other kind is absent, the condition fails, and the denial names it.
func TestAttestationKindsDoNotMix(t *testing.T) {
	enclavePinned := mustParseFile(t, "enclave_imagesha384.json")
	// The NitroTPM document carries the pinned image digest as its PCR0.
	tpm := AddNitroTPMAttestation(nil, map[int][]byte{0: mustHex(image), 1: mustHex(pcr1), 2: mustHex(pcr2)})
	d := enclavePinned.Evaluate(Request{Principal: role, Action: "kms:Decrypt", Resource: keyARN, Context: tpm})
	if d.Allowed {
		t.Fatalf("NitroTPM document admitted by an enclave image condition: %+v", d)
	}
	for _, want := range []string{"kms:RecipientAttestation:ImageSha384", "NitroTPM"} {
		if !strings.Contains(d.Reason, want) {
			t.Errorf("denial %q does not say %q", d.Reason, want)
		}
	}

	pcrPinned := mustParseFile(t, "enclave_pcrs.json")
	if d := pcrPinned.Evaluate(Request{Principal: role, Action: "kms:Decrypt", Resource: keyARN, Context: tpm}); d.Allowed ||
		!strings.Contains(d.Reason, "kms:RecipientAttestation:PCR") {
		t.Errorf("NitroTPM document against enclave PCR conditions: %+v", d)
	}

	tpmPinned := mustParseFile(t, "nitrotpm_pcrs.json")
	// The enclave document carries the pinned NitroTPM values as its PCR4
	// and PCR7.
	enc := AddAttestation(nil, map[int][]byte{0: mustHex(image), 4: mustHex(tpmPCR4), 7: mustHex(tpmPCR7)})
	d = tpmPinned.Evaluate(Request{Principal: role, Action: "kms:Decrypt", Resource: keyARN, Context: enc})
	if d.Allowed {
		t.Fatalf("enclave document admitted by a NitroTPM PCR condition: %+v", d)
	}
	for _, want := range []string{"kms:RecipientAttestation:NitroTPMPCR4", "Nitro Enclave"} {
		if !strings.Contains(d.Reason, want) {
			t.Errorf("denial %q does not say %q", d.Reason, want)
		}
	}

	// "Deny unless the image is X" also denies a NitroTPM document.
	denyUnless := mustParse(t, `{"Version":"2012-10-17","Statement":[
	 {"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"},
	 {"Sid":"OnlyImage","Effect":"Deny","Principal":"*","Action":"kms:Decrypt","Resource":"*",
	  "Condition":{"StringNotEqualsIgnoreCase":{"kms:RecipientAttestation:ImageSha384":"`+image+`"}}}]}`)
	if d := denyUnless.Evaluate(Request{Principal: role, Action: "kms:Decrypt", Resource: keyARN, Context: tpm}); d.Allowed || !d.ExplicitDeny ||
		!strings.Contains(d.Reason, "NitroTPM") {
		t.Errorf("Deny-unless-image with a NitroTPM document: %+v", d)
	}
	// And "Deny unless NitroTPM PCR4 is X" denies an enclave document.
	denyUnlessTPM := mustParse(t, `{"Version":"2012-10-17","Statement":[
	 {"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"},
	 {"Sid":"OnlyBoot","Effect":"Deny","Principal":"*","Action":"kms:Decrypt","Resource":"*",
	  "Condition":{"StringNotEqualsIgnoreCase":{"kms:RecipientAttestation:NitroTPMPCR4":"`+tpmPCR4+`"}}}]}`)
	if d := denyUnlessTPM.Evaluate(Request{Principal: role, Action: "kms:Decrypt", Resource: keyARN, Context: enc}); d.Allowed || !d.ExplicitDeny ||
		!strings.Contains(d.Reason, "Nitro Enclave") {
		t.Errorf("Deny-unless-NitroTPM-PCR4 with an enclave document: %+v", d)
	}
}

func TestParseNitroTPMKeys(t *testing.T) {
	for i := 0; i <= MaxNitroTPMPCR; i++ {
		for _, key := range []string{NitroTPMPCRKey(i), strings.ToLower(NitroTPMPCRKey(i)), strings.ToUpper(NitroTPMPCRKey(i))} {
			if _, err := Parse([]byte(stmt(base + `,"Condition":{"StringEqualsIgnoreCase":{"` + key + `":"00"}}`))); err != nil {
				t.Errorf("%s: %v", key, err)
			}
		}
	}
	for _, key := range []string{"NitroTPMPCR24", "NitroTPMPCR32", "NitroTPMPCR01", "NitroTPMPCR+1", "NitroTPMPCR", "NitroTPMPCR-1", "NitroTPM", "NitroTPMPCR0x1", "NitroTPMImageSha384"} {
		_, err := Parse([]byte(stmt(base + `,"Condition":{"StringEqualsIgnoreCase":{"kms:RecipientAttestation:` + key + `":"00"}}`)))
		if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), key) {
			t.Errorf("%s: %v, want ErrUnsupported naming it", key, err)
		}
	}
	if _, err := Parse([]byte(stmt(base + `,"Condition":{"ForAllValues:StringEqualsIgnoreCase":{"kms:RecipientAttestation:NitroTPMPCR4":"00"}}`))); !errors.Is(err, ErrUnsupported) {
		t.Errorf("ForAllValues with a NitroTPM PCR: %v", err)
	}
}

func TestAddNitroTPMAttestation(t *testing.T) {
	got := AddNitroTPMAttestation(nil, map[int][]byte{0: {0xAB, 0x01}, 7: {0xcd}, 23: {}, 24: {1}, 31: {1}, -1: {2}})
	want := map[string][]string{
		"kms:RecipientAttestation:NitroTPMPCR0":  {"ab01"},
		"kms:RecipientAttestation:NitroTPMPCR7":  {"cd"},
		"kms:RecipientAttestation:NitroTPMPCR23": {""},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("AddNitroTPMAttestation = %v, want %v (never ImageSha384 or PCR<n>)", got, want)
	}
	existing := map[string][]string{"x": {"y"}}
	if got := AddNitroTPMAttestation(existing, map[int][]byte{2: {1}}); len(got) != 2 || got["kms:RecipientAttestation:NitroTPMPCR2"][0] != "01" {
		t.Errorf("AddNitroTPMAttestation into existing = %v", got)
	}
}

// TestAttestationKindMixedIsDeterministic: a context holding keys of both
// kinds (no verified document yields one; a caller of this package could
// build it) is taken as an enclave document's, every time: the kind used
// to come from the first attestation key in map order, so the reason
// for the same request changed from one evaluation to the next.
func TestAttestationKindMixedIsDeterministic(t *testing.T) {
	tpmPinned := mustParseFile(t, "nitrotpm_pcrs.json")
	// Enclave keys, and NitroTPM keys without the pinned NitroTPMPCR4.
	mixed := AddNitroTPMAttestation(
		AddAttestation(nil, map[int][]byte{0: mustHex(image), 1: mustHex(pcr1), 2: mustHex(pcr2), 4: mustHex(tpmPCR4), 7: mustHex(tpmPCR7)}),
		map[int][]byte{0: make([]byte, 48), 1: make([]byte, 48), 2: make([]byte, 48), 23: {0xff}})
	r := Request{Principal: role, Action: "kms:Decrypt", Resource: keyARN, Context: mixed}
	first := tpmPinned.Evaluate(r)
	if first.Allowed {
		t.Fatalf("mixed context without NitroTPMPCR4 admitted: %+v", first)
	}
	if !strings.Contains(first.Reason, "Nitro Enclave document") {
		t.Errorf("reason %q: want the enclave document's", first.Reason)
	}
	for i := 0; i < 500; i++ {
		if k := Prepare(r).hasAtt; k != attEnclave {
			t.Fatalf("run %d: kind %d, want attEnclave (%d)", i, k, attEnclave)
		}
		if d := tpmPinned.Evaluate(r); d.Reason != first.Reason {
			t.Fatalf("run %d: reason %q, the first run's %q", i, d.Reason, first.Reason)
		}
	}
	// Only NitroTPM keys: a NitroTPM document.
	if k := Prepare(Request{Context: nitroTPMAttested(tpmPCR4, tpmPCR7)}).hasAtt; k != attNitroTPM {
		t.Errorf("NitroTPM keys only: kind %d, want attNitroTPM", k)
	}
	if k := Prepare(Request{Context: AddEncryptionContext(nil, map[string]string{"a": "b"})}).hasAtt; k != attNone {
		t.Errorf("no attestation keys: kind %d, want attNone", k)
	}
}
