// SPDX-License-Identifier: Apache-2.0

package attestationtest_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/enclavekit/enclavekit/attestation"
	"github.com/enclavekit/enclavekit/internal/attestationtest"
)

func TestDocumentDefaults(t *testing.T) {
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	fx := attestationtest.New(t, now)
	raw := fx.Document(t, func(d *attestation.Document) { d.Nonce = []byte("n") }, nil)
	d, err := attestation.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if d.ModuleID != fx.Chain.ModuleID || d.Digest != "SHA384" || !d.Timestamp.Equal(now) {
		t.Errorf("module %q digest %q time %v", d.ModuleID, d.Digest, d.Timestamp)
	}
	if len(d.PCRs) != 16 || d.Debug() {
		t.Errorf("%d PCRs, debug %v", len(d.PCRs), d.Debug())
	}
	for i, v := range d.PCRs {
		if len(v) != 48 {
			t.Errorf("PCR%d is %d bytes", i, len(v))
		}
	}
	if !bytes.Equal(d.Nonce, []byte("n")) || d.PublicKey != nil || d.UserData != nil {
		t.Errorf("optional fields: %x %x %x", d.Nonce, d.PublicKey, d.UserData)
	}
	if !d.Certificate.Equal(fx.Chain.Leaf) || len(d.CABundle) != 4 || !d.CABundle[0].Equal(fx.Roots()[0]) {
		t.Error("chain differs from the fixture's")
	}
	if _, err := fx.Chain.Leaf.Verify(verifyOpts(fx)); err != nil {
		t.Errorf("leaf does not chain to RootPool: %v", err)
	}
	if o := fx.Options(); !o.CurrentTime.Equal(now) || len(o.Roots) != 1 {
		t.Errorf("Options() = %+v", o)
	}
	got, err := attestation.Verify(raw, fx.Options())
	if err != nil || got.ModuleID != fx.Chain.ModuleID {
		t.Fatalf("Verify: %v", err)
	}
	// Without the fixture's root the document must not verify.
	if _, err := attestation.Verify(raw, attestation.Options{CurrentTime: now}); !errors.Is(err, attestation.ErrUntrustedChain) {
		t.Errorf("Verify with the AWS root: %v, want untrusted chain", err)
	}
}

func TestDoc(t *testing.T) {
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	fx := attestationtest.New(t, now)
	raw := fx.Doc(func(d *attestation.Document) { d.UserData = []byte("u") })
	d, err := attestation.Verify(raw, fx.Options())
	if err != nil || string(d.UserData) != "u" {
		t.Fatalf("Verify: %v", err)
	}
	// A Fixture literal works too (Doc panics only on signing errors).
	lit := &attestationtest.Fixture{Chain: fx.Chain, Now: now}
	if _, err := attestation.Verify(lit.Doc(), lit.Options()); err != nil {
		t.Fatal(err)
	}
}

func TestCopyPCRs(t *testing.T) {
	a := attestationtest.PCRs()
	b := attestationtest.CopyPCRs(a)
	b[0][0] ^= 1
	if a[0][0] == b[0][0] {
		t.Fatal("CopyPCRs shares bytes")
	}
}
