// SPDX-License-Identifier: Apache-2.0

package attestation

import (
	"crypto/x509"
	"testing"

	"github.com/veraison/go-cose"
)

// TestCOSEOracle checks the hand-built Sig_structure against go-cose, an
// independent COSE implementation: both must agree on every real and
// negative document whose envelope parses.
func TestCOSEOracle(t *testing.T) {
	vecs := append(loadVectors(t, "real"), loadVectors(t, "negative")...)
	checked := 0
	for _, v := range vecs {
		rd, err := parseRaw(v.data, kindEnclave)
		if err != nil {
			continue // the truncated and empty-cabundle negatives
		}
		leaf, err := x509.ParseCertificate(rd.leaf)
		if err != nil {
			t.Fatal(err)
		}
		verifier, err := cose.NewVerifier(cose.AlgorithmES384, leaf.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		var msg cose.UntaggedSign1Message
		if err := msg.UnmarshalCBOR(v.data); err != nil {
			t.Fatalf("%s: go-cose: %v", v.Name, err)
		}
		oracle := msg.Verify(nil, verifier) == nil
		ours := verifySignature(mustChain(t, leaf).key, rd) == nil
		if oracle != ours || (v.SigOK != nil && *v.SigOK != ours) {
			t.Errorf("%s: ours %v, go-cose %v, facts %v", v.Name, ours, oracle, v.SigOK)
		}
		checked++
	}
	if checked < 21 {
		t.Errorf("only %d documents checked", checked)
	}
}

func mustChain(t *testing.T, leaf *x509.Certificate) *chain {
	c, err := newChain(leaf, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
