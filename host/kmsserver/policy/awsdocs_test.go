// SPDX-License-Identifier: Apache-2.0

package policy

import (
	"encoding/hex"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// The testdata policies follow the examples of the AWS KMS Developer Guide
// ("Condition keys for Nitro Enclaves", "AWS KMS condition keys"), with our
// own values. These tests check that they evaluate as the guide says.

type docCase struct {
	name      string
	principal string
	action    string
	ctx       map[string][]string
	allowed   bool
	explicit  bool
}

func runDocCases(t *testing.T, p *Policy, cases []docCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := p.Evaluate(Request{Principal: c.principal, Action: c.action, Resource: keyARN, Context: c.ctx})
			if d.Allowed != c.allowed || d.ExplicitDeny != c.explicit {
				t.Errorf("got %+v, want allowed=%v explicit=%v", d, c.allowed, c.explicit)
			}
		})
	}
}

func attested(pcr0 string) map[string][]string {
	b, err := hex.DecodeString(pcr0)
	if err != nil {
		panic(err)
	}
	return AddAttestation(nil, map[int][]byte{0: b, 1: mustHex(pcr1), 2: mustHex(pcr2), 3: make([]byte, 48)})
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// "The kms:RecipientAttestation:ImageSha384 condition key allows the
// operations only when the image digest value (PCR0) of the attestation
// document in the request matches ... If the request doesn't include any
// attestation document, permission is denied."
func TestAWSDocImageSha384(t *testing.T) {
	p := mustParseFile(t, "enclave_imagesha384.json")
	var cases []docCase
	for _, a := range []string{"kms:Decrypt", "kms:DeriveSharedSecret", "kms:GenerateDataKey", "kms:GenerateDataKeyPair", "kms:GenerateRandom"} {
		cases = append(cases,
			docCase{a + " attested", role, a, attested(image), true, false},
			docCase{a + " no document", role, a, nil, false, false},
			docCase{a + " other image", role, a, attested(pcr1), false, false})
	}
	cases = append(cases,
		docCase{"upper-case policy value vs lower-case presented", role, "kms:Decrypt", ctxOf(KeyImageSha384, strings.ToUpper(image)), true, false},
		docCase{"role session", "arn:aws:sts::111122223333:assumed-role/data-processing/i-0123", "kms:Decrypt", attested(image), true, false},
		docCase{"other role", "arn:aws:iam::111122223333:role/other", "kms:Decrypt", attested(image), false, false},
		docCase{"action not listed", role, "kms:Encrypt", attested(image), false, false},
		docCase{"GenerateDataKeyWithoutPlaintext not listed", role, "kms:GenerateDataKeyWithoutPlaintext", attested(image), false, false},
	)
	runDocCases(t, p, cases)
}

// "allows the operation only when the PCR1 value in the signed attestation
// document in the request matches"; several PCR keys are ANDed.
func TestAWSDocPCRs(t *testing.T) {
	p := mustParseFile(t, "enclave_pcrs.json")
	wrongPCR2 := attested(image)
	wrongPCR2[PCRKey(2)] = []string{pcr1}
	noPCR2 := attested(image)
	delete(noPCR2, PCRKey(2))
	runDocCases(t, p, []docCase{
		{"all PCRs match", role, "kms:Decrypt", attested(image), true, false},
		{"PCR0 differs", role, "kms:Decrypt", attested(pcr2), false, false},
		{"PCR2 differs", role, "kms:Decrypt", wrongPCR2, false, false},
		{"PCR2 absent", role, "kms:Decrypt", noPCR2, false, false},
		{"no document", role, "kms:Decrypt", nil, false, false},
		{"enclave role cannot administer", role, "kms:PutKeyPolicy", attested(image), false, false},
		{"admin administers", "arn:aws:iam::111122223333:role/key-admin", "kms:PutKeyPolicy", nil, true, false},
		{"admin wildcard Describe*", "arn:aws:iam::111122223333:role/key-admin", "kms:DescribeKey", nil, true, false},
		{"admin cannot decrypt", "arn:aws:iam::111122223333:role/key-admin", "kms:Decrypt", attested(image), false, false},
	})
}

// Allow-all for the account plus a Deny with a negated operator: the Deny
// also catches requests without an attestation document.
func TestAWSDocDenyUnattested(t *testing.T) {
	p := mustParseFile(t, "enclave_deny_unattested.json")
	user := "arn:aws:iam::111122223333:user/alice"
	runDocCases(t, p, []docCase{
		{"encrypt needs no attestation", user, "kms:Encrypt", nil, true, false},
		{"decrypt without document", user, "kms:Decrypt", nil, false, true},
		{"decrypt with wrong image", user, "kms:Decrypt", attested(pcr1), false, true},
		{"decrypt with approved image", user, "kms:Decrypt", attested(image), true, false},
		{"GenerateDataKey* covers WithoutPlaintext", user, "kms:GenerateDataKeyWithoutPlaintext", nil, false, true},
		{"ReEncryptFrom denied", user, "kms:ReEncryptFrom", nil, false, true},
		{"other account is denied by both", otherArn, "kms:Decrypt", nil, false, true},
		{"other account encrypt: implicit deny", otherArn, "kms:Encrypt", nil, false, false},
	})
}

// "The key name is not case sensitive. The case sensitivity of the value is
// determined by the condition operator"; ForAllValues limits the keys;
// "Multiple values ... for the same key ... are implicitly connected by OR."
func TestAWSDocEncryptionContext(t *testing.T) {
	p := mustParseFile(t, "encryption_context.json")
	who := "arn:aws:iam::111122223333:role/RoleForExampleApp"
	ec := func(kv map[string]string) map[string][]string { return AddEncryptionContext(nil, kv) }
	runDocCases(t, p, []docCase{
		{"exact pair", who, "kms:GenerateDataKey", ec(map[string]string{"AppName": "ExampleApp"}), true, false},
		{"key in other case", who, "kms:GenerateDataKey", ec(map[string]string{"APPNAME": "ExampleApp"}), false, false}, // ForAllValues:StringEquals on the keys is case-sensitive
		{"value in other case", who, "kms:GenerateDataKey", ec(map[string]string{"AppName": "exampleapp"}), false, false},
		{"allowed extra key", who, "kms:GenerateDataKey", ec(map[string]string{"AppName": "ExampleApp", "Stage": "Test"}), true, false},
		{"forbidden extra key", who, "kms:GenerateDataKey", ec(map[string]string{"AppName": "ExampleApp", "Owner": "bob"}), false, false},
		{"no encryption context", who, "kms:GenerateDataKey", nil, false, false},
		{"Stage=Restricted", who, "kms:GenerateDataKey", ec(map[string]string{"AppName": "ExampleApp", "Stage": "Restricted"}), false, true},
		{"Stage=Production", who, "kms:GenerateDataKey", ec(map[string]string{"AppName": "ExampleApp", "Stage": "Production"}), false, true},
		{"stage key case-insensitive in the Deny", who, "kms:GenerateDataKey", ec(map[string]string{"AppName": "ExampleApp", "stage": "Production"}), false, true},
	})
	// The key part of kms:EncryptionContext:<key> is case-insensitive on its own.
	q := mustParse(t, stmt(`"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{"StringEquals":{"kms:EncryptionContext:Appname":"ExampleApp"}}`))
	for _, k := range []string{"AppName", "appname", "APPNAME", "Appname"} {
		if d := q.Evaluate(Request{Principal: who, Action: "kms:Decrypt", Context: ec(map[string]string{k: "ExampleApp"})}); !d.Allowed {
			t.Errorf("context key %q: %+v", k, d)
		}
	}
}

// kms:CallerAccount with Principal "*" and kms:ViaService, as in the AWS
// managed key policy for Amazon EBS.
func TestAWSDocCallerAccount(t *testing.T) {
	p := mustParseFile(t, "caller_account.json")
	via := ctxOf(KeyViaService, "ec2.us-west-2.amazonaws.com")
	runDocCases(t, p, []docCase{
		{"account principal through EBS", "arn:aws:iam::111122223333:user/alice", "kms:Decrypt", via, true, false},
		{"ReEncrypt* through EBS", "arn:aws:iam::111122223333:user/alice", "kms:ReEncryptTo", via, true, false},
		{"direct call", "arn:aws:iam::111122223333:user/alice", "kms:Decrypt", nil, false, false},
		{"other account", otherArn, "kms:Decrypt", via, false, false},
		{"other region's EBS", "arn:aws:iam::111122223333:user/alice", "kms:Decrypt", ctxOf(KeyViaService, "ec2.us-east-1.amazonaws.com"), false, false},
	})
}

func TestAddAttestation(t *testing.T) {
	pcrs := map[int][]byte{0: {0xAB, 0x01}, 1: {0xcd}, 8: {}, 32: {1}, -1: {2}}
	got := AddAttestation(nil, pcrs)
	want := map[string][]string{
		"kms:RecipientAttestation:ImageSha384": {"ab01"},
		"kms:RecipientAttestation:PCR0":        {"ab01"},
		"kms:RecipientAttestation:PCR1":        {"cd"},
		"kms:RecipientAttestation:PCR8":        {""},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("AddAttestation = %v, want %v", got, want)
	}
	existing := map[string][]string{"x": {"y"}}
	if got := AddAttestation(existing, map[int][]byte{2: {1}}); len(got) != 2 || got["kms:RecipientAttestation:PCR2"][0] != "01" {
		t.Errorf("AddAttestation into existing = %v", got)
	}
}

// TestAddAttestationValues: the values share one buffer (addPCRs), yet
// each is its own one-element slice: appending to one (as
// AddEncryptionContext appends to its keys) never changes another, and
// values longer than the encoder's 64-byte chunks come out whole.
func TestAddAttestationValues(t *testing.T) {
	long := make([]byte, 200)
	for i := range long {
		long[i] = byte(i)
	}
	pcrs := map[int][]byte{0: {0xAB}, 1: {0xCD}, 2: long, 31: make([]byte, 48)}
	got := AddAttestation(nil, pcrs)
	for i, v := range pcrs {
		k := PCRKey(i)
		if want := hex.EncodeToString(v); len(got[k]) != 1 || got[k][0] != want {
			t.Fatalf("%s = %q, want [%q]", k, got[k], want)
		}
		if c := cap(got[k]); c != 1 {
			t.Errorf("%s has capacity %d, want 1", k, c)
		}
	}
	got[PCRKey(0)] = append(got[PCRKey(0)], "x")
	if len(got[KeyImageSha384]) != 1 || got[KeyImageSha384][0] != "ab" || got[PCRKey(1)][0] != "cd" {
		t.Errorf("an append to PCR0 changed other values: %v", got)
	}
	tpm := AddNitroTPMAttestation(nil, map[int][]byte{0: long, 23: {1}})
	if len(tpm) != 2 || tpm[NitroTPMPCRKey(0)][0] != hex.EncodeToString(long) || tpm[NitroTPMPCRKey(23)][0] != "01" {
		t.Errorf("AddNitroTPMAttestation = %v", tpm)
	}
	if got := AddAttestation(nil, map[int][]byte{40: {1}}); len(got) != 0 {
		t.Errorf("AddAttestation of an index past MaxPCR = %v, want nothing", got)
	}
}

// TestKeyNames: the precomputed names are the formatted ones, outside the
// tables too, and lowerKey is strings.ToLower for known and unknown keys.
func TestKeyNames(t *testing.T) {
	for i := -1; i <= MaxPCR+1; i++ {
		if got, want := PCRKey(i), KeyPCRPrefix+strconv.Itoa(i); got != want {
			t.Errorf("PCRKey(%d) = %q, want %q", i, got, want)
		}
		if got, want := NitroTPMPCRKey(i), KeyNitroTPMPCRPrefix+strconv.Itoa(i); got != want {
			t.Errorf("NitroTPMPCRKey(%d) = %q, want %q", i, got, want)
		}
	}
	keys := []string{KeyImageSha384, PCRKey(0), PCRKey(31), NitroTPMPCRKey(23), KeySourceIP, KeyKeySpec,
		"kms:EncryptionContext:Purpose", "KMS:RecipientAttestation:PCR0", "x"}
	for k := range lowerKeys {
		keys = append(keys, k)
	}
	for _, k := range keys {
		if got, want := lowerKey(k), strings.ToLower(k); got != want {
			t.Errorf("lowerKey(%q) = %q, want %q", k, got, want)
		}
	}
}

func TestAddEncryptionContext(t *testing.T) {
	got := AddEncryptionContext(nil, map[string]string{"b": "2", "a": "1"})
	want := map[string][]string{
		"kms:EncryptionContext:a":   {"1"},
		"kms:EncryptionContext:b":   {"2"},
		"kms:EncryptionContextKeys": {"a", "b"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("AddEncryptionContext = %v, want %v", got, want)
	}
	if got := AddEncryptionContext(nil, nil); len(got) != 0 {
		t.Errorf("empty encryption context added %v", got)
	}
}
