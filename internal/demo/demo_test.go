// SPDX-License-Identifier: Apache-2.0

package demo

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/enclavekit/enclavekit/host/kmsserver/policy"
)

func TestSummarize(t *testing.T) {
	blob := base64.StdEncoding.EncodeToString(make([]byte, 493))
	m := Summarize([]byte(`{"KeyId":"arn:aws:kms:us-east-1:111122223333:key/01533971-b5c8-437d-a14e-ec79f88ec42f",
		"CiphertextForRecipient":"` + blob + `","Recipient":{"AttestationDocument":"` + blob + `","KeyEncryptionAlgorithm":"RSAES_OAEP_SHA_256"}}`))
	if m["CiphertextForRecipient"] != "<493 bytes>" || m["Recipient"].(map[string]any)["AttestationDocument"] != "<493 bytes>" {
		t.Errorf("blobs not summarized: %v", m)
	}
	if !strings.HasPrefix(m["KeyId"].(string), "arn:") || m["Recipient"].(map[string]any)["KeyEncryptionAlgorithm"] != "RSAES_OAEP_SHA_256" {
		t.Errorf("plain strings changed: %v", m)
	}
	if Summarize([]byte("not json")) != nil {
		t.Error("non-JSON body summarized")
	}
}

func TestKeyPolicy(t *testing.T) {
	const pcr0 = "8F0D145C0368AD6B70BE22E41C400EEA91B971D96BA220FEC9FAE25A58DFFDAAF72DBE8F6783D55128C9DF4EFAF6F8A7"
	doc, err := KeyPolicy("arn:aws:iam::111122223333:user/admin", "arn:aws:iam::111122223333:role/enclave", pcr0)
	if err != nil {
		t.Fatal(err)
	}
	p, err := policy.Parse(doc)
	if err != nil {
		t.Fatalf("kms-server refuses the demo's policy: %v\n%s", err, doc)
	}
	d := p.Evaluate(policy.Request{Principal: "arn:aws:iam::111122223333:role/enclave", Action: "kms:Decrypt"})
	if d.Allowed || !strings.Contains(d.Reason, "ImageSha384") {
		t.Errorf("Decrypt without attestation: %+v", d)
	}
	if _, err := KeyPolicy("a", "b", "00"); !errors.Is(err, ErrDemo) {
		t.Errorf("short digest: %v", err)
	}
}
