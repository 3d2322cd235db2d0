// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"github.com/enclavekit/enclavekit/host/kmsserver/policy"
)

// TestDeployKeyPolicy checks the example key policy of the README
// (deploy/enclave/key-policy.json): kms-server accepts its grammar, it
// releases keys to the pinned image through its parent's role only,
// nobody gets plaintext without that image's attestation, and the
// administrator may Encrypt (to store secrets for the image, as
// deploy/enclave/python-app does) but gets no data key from it.
func TestDeployKeyPolicy(t *testing.T) {
	doc, err := os.ReadFile("../deploy/enclave/key-policy.json")
	if err != nil {
		t.Fatal(err)
	}
	p, err := policy.Parse(doc)
	if err != nil {
		t.Fatalf("deploy/enclave/key-policy.json: %v", err)
	}
	const (
		parent = "arn:aws:iam::111122223333:role/enclave-parent"
		admin  = "arn:aws:iam::111122223333:role/key-admin"
		other  = "arn:aws:iam::111122223333:role/other"
	)
	pcrs := func(pcr0, pcr1, pcr2 string) map[int][]byte {
		m := map[int][]byte{}
		for i, s := range []string{pcr0, pcr1, pcr2} {
			b, err := hex.DecodeString(s)
			if err != nil {
				t.Fatal(err)
			}
			m[i] = b
		}
		return m
	}
	imageA := pcrs(pcr0A, pcr1A, pcr2A)
	imageB := pcrs(pcr0B, pcr1A, pcr2A)
	for _, tc := range []struct {
		principal, action string
		pcrs              map[int][]byte
		allowed           bool
		reason            string // part of the denial's reason
	}{
		{parent, "kms:GenerateDataKey", imageA, true, ""},
		{parent, "kms:Decrypt", imageA, true, ""},
		{parent, "kms:GenerateDataKey", imageB, false, "ImageSha384"},
		{parent, "kms:Decrypt", nil, false, "ImageSha384"},
		{parent, "kms:GenerateDataKeyPair", imageA, false, ""},
		{parent, "kms:ReEncryptFrom", nil, false, "NoKeyOutsideTheEnclaveImage"},
		{admin, "kms:Decrypt", nil, false, "NoKeyOutsideTheEnclaveImage"},
		{admin, "kms:PutKeyPolicy", nil, true, ""},
		{admin, "kms:ScheduleKeyDeletion", nil, true, ""},
		{other, "kms:GenerateDataKey", imageA, false, ""},
		// EncryptOnly: the administrator encrypts, and that is all it
		// adds; nobody else encrypts.
		{admin, "kms:Encrypt", nil, true, ""},
		{admin, "kms:GenerateDataKey", nil, false, "NoKeyOutsideTheEnclaveImage"},
		{admin, "kms:GenerateDataKeyWithoutPlaintext", nil, false, ""},
		{admin, "kms:ReEncryptTo", nil, false, "NoKeyOutsideTheEnclaveImage"},
		{parent, "kms:Encrypt", nil, false, ""},
		{parent, "kms:Encrypt", imageA, false, ""},
		{parent, "kms:CreateGrant", nil, false, ""},
		{other, "kms:Encrypt", nil, false, ""},
	} {
		var ctx map[string][]string
		if tc.pcrs != nil {
			ctx = policy.AddAttestation(nil, tc.pcrs)
		}
		d := p.Evaluate(policy.Request{Principal: tc.principal, Action: tc.action, Context: ctx,
			Resource: "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"})
		if d.Allowed != tc.allowed || !strings.Contains(d.Reason, tc.reason) {
			t.Errorf("%s %s (attested: %v): allowed %v (%s), want %v (%q)", tc.principal, tc.action, tc.pcrs != nil, d.Allowed, d.Reason, tc.allowed, tc.reason)
		}
	}
}
