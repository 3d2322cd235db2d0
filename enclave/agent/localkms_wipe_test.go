// SPDX-License-Identifier: Apache-2.0

package agent

import (
	"bytes"
	"encoding/json"
	"testing"
)

// TestRefuseSecretsClears: a plaintext the key service answered (across the
// parent, in the clear) is refused, and every copy the endpoint made of it
// is cleared: the answer's bytes and the values json.Unmarshal copied into
// the parsed answer, for every secret member in any case, not only the
// first found.
func TestRefuseSecretsClears(t *testing.T) {
	resp := []byte(`{"CiphertextBlob":"YmxvYg==","Plaintext":"c2VjcmV0LWtleQ==","plaintext":"c2Vjb25k","PRIVATEKEYPLAINTEXT":"cHJpdg==","SharedSecret":"c3M="}`)
	var out map[string]json.RawMessage
	if err := json.Unmarshal(resp, &out); err != nil {
		t.Fatal(err)
	}
	secrets := map[string]json.RawMessage{}
	for _, k := range []string{"Plaintext", "plaintext", "PRIVATEKEYPLAINTEXT", "SharedSecret"} {
		secrets[k] = out[k]
	}
	blob := bytes.Clone(out["CiphertextBlob"])
	if _, ok := refuseSecrets(resp, out); !ok {
		t.Fatal("an answer with Plaintext was not refused")
	}
	if i := bytes.IndexFunc(resp, func(r rune) bool { return r != 0 }); i >= 0 {
		t.Errorf("the answer is not cleared (byte %d): %q", i, resp)
	}
	for k, v := range secrets {
		if len(v) == 0 || bytes.IndexFunc(v, func(r rune) bool { return r != 0 }) >= 0 {
			t.Errorf("the parsed copy of %s is not cleared: %q", k, v)
		}
	}
	if !bytes.Equal(out["CiphertextBlob"], blob) {
		t.Errorf("CiphertextBlob changed: %q", out["CiphertextBlob"])
	}

	// No secret member (a null Plaintext is none): nothing is refused or
	// cleared.
	resp = []byte(`{"CiphertextBlob":"YmxvYg==","Plaintext":null}`)
	out = nil
	if err := json.Unmarshal(resp, &out); err != nil {
		t.Fatal(err)
	}
	if _, ok := refuseSecrets(resp, out); ok || resp[0] != '{' {
		t.Errorf("an answer without a secret member was refused or cleared: %q", resp)
	}
}
