// SPDX-License-Identifier: Apache-2.0

package kms

import (
	"encoding/json"
	"reflect"
	"regexp"
	"testing"
)

var fastJSONSeeds = []string{
	`{"KeyId":"alias/a","KeySpec":"AES_256","Recipient":{"AttestationDocument":"aGVsbG8=","KeyEncryptionAlgorithm":"RSAES_OAEP_SHA_256"}}`,
	`{ "KeyId" : "k" , "NumberOfBytes" : 64 , "DryRun" : true , "GrantTokens" : [ "a" , "b" ] , "EncryptionContext" : { "p" : "q" , "r" : "" } }`,
	`{"KeyId":"k","NumberOfBytes":0,"GrantTokens":[],"EncryptionContext":{},"Recipient":{},"DryRun":false}`,
	`{"Recipient":{"AttestationDocument":""}}`,
	`{}`,
	// Outside the subset: fall back to encoding/json.
	`{"KeyId":"k","KeyId":"j"}`,
	`{"keyid":"k"}`,
	`{"KeyId":"a\u0041"}`,
	`{"KeyId":null}`,
	`{"NumberOfBytes":1.0}`,
	`{"NumberOfBytes":012}`,
	`{"NumberOfBytes":-1}`,
	`{"NumberOfBytes":1234567890}`,
	`{"Recipient":{"AttestationDocument":"aGVsbG8"}}`,
	`{"Recipient":{"AttestationDocument":"a\/8="}}`,
	`{"Other":1}`,
	`{"KeyId":"k"} x`,
	`{"KeyId":"k"}}`,
	`{"KeyId":"k",}`,
	`{"GrantTokens":["a",]}`,
	`{"DryRun":tru}`,
	`{"KeyId":"é"}`,
	``,
	`[]`,
}

// TestDecodeGenerateDataKeyFast checks the fast path on bodies it takes and
// bodies it must leave to encoding/json.
func TestDecodeGenerateDataKeyFast(t *testing.T) {
	take := map[string]bool{fastJSONSeeds[0]: true, fastJSONSeeds[1]: true, fastJSONSeeds[2]: true,
		fastJSONSeeds[3]: true, fastJSONSeeds[4]: true}
	for _, body := range fastJSONSeeds {
		var in generateDataKeyInput
		if got := decodeGenerateDataKeyFast([]byte(body), &in); got != take[body] {
			t.Errorf("%s: fast path took it: %v, want %v", body, got, take[body])
		}
		checkFastJSON(t, []byte(body))
	}
	var in generateDataKeyInput
	decodeGenerateDataKeyFast([]byte(fastJSONSeeds[0]), &in)
	if string(in.Recipient.AttestationDocument) != "hello" || in.KeyID != "alias/a" || in.KeySpec != "AES_256" {
		t.Fatalf("decoded %+v", in)
	}
}

// checkFastJSON fails when the fast path accepts body but encoding/json
// decodes it differently or rejects it.
func checkFastJSON(t *testing.T, body []byte) {
	var fast, std generateDataKeyInput
	if !decodeGenerateDataKeyFast(body, &fast) {
		return
	}
	if err := decode(body, &std); err != nil {
		t.Fatalf("%q: fast path accepted what encoding/json rejects: %v", body, err)
	}
	if !reflect.DeepEqual(fast, std) {
		fj, _ := json.Marshal(fast)
		sj, _ := json.Marshal(std)
		t.Fatalf("%q: fast path %s, encoding/json %s", body, fj, sj)
	}
}

func FuzzDecodeGenerateDataKeyFast(f *testing.F) {
	for _, s := range fastJSONSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(checkFastJSON)
}

func TestIsKeyID(t *testing.T) {
	re := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	for _, id := range []string{"", "0b8f5a6c-1f1e-4a57-9a3e-1c7d2b0c9a11", "0B8F5A6C-1F1E-4A57-9A3E-1C7D2B0C9A11",
		"0b8f5a6c-1f1e-4a57-9a3e-1c7d2b0c9a1", "0b8f5a6c-1f1e-4a57-9a3e-1c7d2b0c9a111", "0b8f5a6c1-f1e-4a57-9a3e-1c7d2b0c9a11",
		"0b8f5a6g-1f1e-4a57-9a3e-1c7d2b0c9a11", "00000000-0000-0000-0000-000000000000", "0b8f5a6c-1f1e-4a57-9a3e_1c7d2b0c9a11",
		"alias/x", "0b8f5a6c-1f1e-4a57-9a3e-1c7d2b0c9a1\n"} {
		if got, want := isKeyID(id), re.MatchString(id); got != want {
			t.Errorf("isKeyID(%q) = %v, regexp says %v", id, got, want)
		}
	}
}
