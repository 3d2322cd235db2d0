// SPDX-License-Identifier: Apache-2.0

package nitroca_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/enclavekit/enclavekit/internal/nitroca"
)

var t0 = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

func verifyAt(c *nitroca.Chain, at time.Time) error {
	roots := x509.NewCertPool()
	roots.AddCert(c.Root)
	inter := x509.NewCertPool()
	for _, ca := range []*x509.Certificate{c.Regional, c.Zonal, c.Instance} {
		inter.AddCert(ca)
	}
	_, err := c.Leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: at,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	return err
}

func TestNewChainShape(t *testing.T) {
	c, err := nitroca.NewChain(rand.Reader, t0.Add(123*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if err := verifyAt(c, t0); err != nil {
		t.Fatalf("chain does not verify at issue time: %v", err)
	}
	if err := verifyAt(c, t0.Add(3*time.Hour+time.Second)); err == nil {
		t.Fatal("chain verifies after the leaf expired")
	}
	type want struct {
		name     string
		cert     *x509.Certificate
		key      *ecdsa.PrivateKey
		validity time.Duration
		isCA     bool
		pathLen  int
		usage    x509.KeyUsage
	}
	caUsage := x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	for _, w := range []want{
		{"root", c.Root, c.RootKey, nitroca.RootValidity, true, -1, caUsage},
		{"regional", c.Regional, c.RegionalKey, nitroca.RegionalValidity, true, 2, caUsage},
		{"zonal", c.Zonal, c.ZonalKey, nitroca.ZonalValidity, true, 1, caUsage},
		{"instance", c.Instance, c.InstanceKey, nitroca.InstanceValidity, true, 0, x509.KeyUsageCertSign},
		{"leaf", c.Leaf, c.LeafKey, nitroca.LeafValidity, false, -1, x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment},
	} {
		cert := w.cert
		if !cert.NotBefore.Equal(t0) || cert.NotAfter.Sub(cert.NotBefore) != w.validity {
			t.Errorf("%s: validity [%v, %v], want %v from %v", w.name, cert.NotBefore, cert.NotAfter, w.validity, t0)
		}
		if cert.SignatureAlgorithm != x509.ECDSAWithSHA384 {
			t.Errorf("%s: signature algorithm %v", w.name, cert.SignatureAlgorithm)
		}
		pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
		if !ok || pub.Curve != elliptic.P384() || !pub.Equal(&w.key.PublicKey) {
			t.Errorf("%s: public key is not the P-384 key given", w.name)
		}
		if !cert.BasicConstraintsValid || cert.IsCA != w.isCA {
			t.Errorf("%s: basic constraints valid=%v CA=%v", w.name, cert.BasicConstraintsValid, cert.IsCA)
		}
		if w.isCA {
			gotLen := cert.MaxPathLen
			if gotLen == 0 && !cert.MaxPathLenZero {
				gotLen = -1
			}
			if gotLen != w.pathLen {
				t.Errorf("%s: path length %d, want %d", w.name, gotLen, w.pathLen)
			}
		}
		if cert.KeyUsage != w.usage {
			t.Errorf("%s: key usage %b, want %b", w.name, cert.KeyUsage, w.usage)
		}
		if cert.Subject.Organization[0] != "enclavekit emulator" || strings.Contains(cert.Subject.String(), "Amazon") {
			t.Errorf("%s: subject %v", w.name, cert.Subject)
		}
	}
	if !strings.HasPrefix(c.Leaf.Subject.CommonName, c.ModuleID+".") || !strings.Contains(c.ModuleID, "-enc") {
		t.Errorf("module ID %q does not match leaf %q", c.ModuleID, c.Leaf.Subject.CommonName)
	}
	s := c.Signer()
	if s.Key != c.LeafKey || s.Certificate != c.Leaf || len(s.CABundle) != 4 || s.CABundle[0] != c.Root ||
		s.CABundle[3] != c.Instance || s.Definite || s.Tag18 {
		t.Errorf("Signer() = %+v", s)
	}
}

func TestRotateLeaf(t *testing.T) {
	c, err := nitroca.NewChain(rand.Reader, t0)
	if err != nil {
		t.Fatal(err)
	}
	old, oldID := c.Leaf, c.ModuleID
	later := t0.Add(5 * time.Hour)
	if err := c.RotateLeaf(rand.Reader, later); err != nil {
		t.Fatal(err)
	}
	if c.Leaf == old || c.ModuleID == oldID || !c.Leaf.NotBefore.Equal(later) {
		t.Fatalf("leaf not rotated: %v %v", c.Leaf.NotBefore, c.ModuleID)
	}
	if err := verifyAt(c, later.Add(time.Hour)); err != nil {
		t.Fatalf("rotated chain: %v", err)
	}
	if !c.Instance.Equal(c.Signer().CABundle[3]) {
		t.Fatal("instance CA changed")
	}
	if err := c.RotateLeaf(rand.Reader, t0.Add(25*time.Hour)); err == nil {
		t.Fatal("RotateLeaf after the instance CA expired succeeded")
	}
}

func TestBrokenChains(t *testing.T) {
	root, err := nitroca.NewRoot(rand.Reader, t0)
	if err != nil {
		t.Fatal(err)
	}
	for _, curve := range []elliptic.Curve{elliptic.P256(), elliptic.P521()} {
		c, err := root.IssueChain(rand.Reader, t0, &nitroca.Options{LeafCurve: curve})
		if err != nil {
			t.Fatal(err)
		}
		if c.Leaf.PublicKey.(*ecdsa.PublicKey).Curve != curve || c.LeafKey.Curve != curve {
			t.Errorf("leaf curve is not %v", curve.Params().Name)
		}
	}
	c, err := root.IssueChain(rand.Reader, t0, &nitroca.Options{InstanceNotCA: true})
	if err != nil {
		t.Fatal(err)
	}
	var unk x509.UnknownAuthorityError
	if err := verifyAt(c, t0); !errors.As(err, &unk) || !strings.Contains(err.Error(), "cannot sign") {
		t.Errorf("instance CA without basic constraints: got %v, want parent cannot sign", err)
	}
	c, err = root.IssueChain(rand.Reader, t0, &nitroca.Options{LeafNotBefore: t0.Add(4 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	var inv x509.CertificateInvalidError
	if err := verifyAt(c, t0); !errors.As(err, &inv) || inv.Reason != x509.Expired {
		t.Errorf("leaf not yet valid: got %v, want Expired (x509's reason for outside validity)", err)
	}
	if c.Leaf.NotAfter.Sub(c.Leaf.NotBefore) != nitroca.LeafValidity {
		t.Error("shifted leaf is not 3 hours")
	}
}

func TestRootPersistence(t *testing.T) {
	dir := t.TempDir()
	cf, kf := filepath.Join(dir, "root.pem"), filepath.Join(dir, "root.key")
	r1, err := nitroca.LoadOrCreateRoot(cf, kf, rand.Reader, t0)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(kf); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	r2, err := nitroca.LoadOrCreateRoot(cf, kf, rand.Reader, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if !r1.Cert.Equal(r2.Cert) || !r1.Key.Equal(r2.Key) {
		t.Fatal("reloaded root differs")
	}
	c, err := r2.IssueChain(rand.Reader, t0.Add(time.Hour), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := verifyAt(c, t0.Add(time.Hour)); err != nil || !c.Root.Equal(r1.Cert) {
		t.Fatalf("chain under the reloaded root: %v", err)
	}

	other, err := nitroca.NewRoot(rand.Reader, t0)
	if err != nil {
		t.Fatal(err)
	}
	otherKey, err := other.KeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nitroca.ParseRoot(r1.CertPEM(), otherKey); !errors.Is(err, nitroca.ErrRoot) {
		t.Errorf("mismatched key: got %v, want ErrRoot", err)
	}
	if _, err := nitroca.ParseRoot([]byte("junk"), otherKey); !errors.Is(err, nitroca.ErrRoot) {
		t.Errorf("junk certificate: got %v, want ErrRoot", err)
	}
	if err := os.Remove(cf); err != nil {
		t.Fatal(err)
	}
	if _, err := nitroca.LoadOrCreateRoot(cf, kf, rand.Reader, t0); err == nil {
		t.Error("LoadOrCreateRoot with only the key present made a new root or succeeded")
	}
}
