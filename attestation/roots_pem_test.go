// SPDX-License-Identifier: Apache-2.0

package attestation

import (
	"encoding/pem"
	"errors"
	"testing"
)

func TestParseRootsPEM(t *testing.T) {
	root := AWSNitroRootG1()
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: root.Raw})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2, 3}})

	got, err := ParseRootsPEM(append(append([]byte("comment\n"), keyPEM...), append(certPEM, certPEM...)...))
	if err != nil || len(got) != 2 || !got[0].Equal(root) || !got[1].Equal(root) {
		t.Fatalf("two roots among other blocks: %d, %v", len(got), err)
	}
	if _, err := ParseRootsPEM(keyPEM); !errors.Is(err, errNoPEMRoots) {
		t.Fatalf("no certificate: %v, want errNoPEMRoots", err)
	}
	if _, err := ParseRootsPEM(nil); !errors.Is(err, errNoPEMRoots) {
		t.Fatalf("empty: %v, want errNoPEMRoots", err)
	}
	bad := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{0x30, 0x03, 1, 2, 3}})
	if _, err := ParseRootsPEM(append(certPEM, bad...)); err == nil || errors.Is(err, errNoPEMRoots) {
		t.Fatalf("unparsable certificate: %v, want a parse error", err)
	}
}
