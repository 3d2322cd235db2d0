// SPDX-License-Identifier: Apache-2.0

package attestation_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/enclavekit/enclavekit/attestation"
	"github.com/enclavekit/enclavekit/internal/attestationtest"
	"github.com/enclavekit/enclavekit/internal/nitroca"
)

var t0 = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// wantCode checks that a failed verification returned no document, the
// code and the matching sentinel.
// newVerifier is attestation.NewVerifier for a configuration that must be
// valid.
func newVerifier(tb testing.TB, cfg *attestation.VerifierConfig) *attestation.Verifier {
	tb.Helper()
	v, err := attestation.NewVerifier(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

func wantCode(t *testing.T, doc *attestation.Document, err error, code string, sentinel error) {
	t.Helper()
	if doc != nil {
		t.Errorf("a document was returned beside error %v", err)
	}
	if got := attestation.ErrorCode(err); got != code || !errors.Is(err, sentinel) {
		t.Fatalf("err %v (code %q), want code %q", err, got, code)
	}
	if !strings.HasPrefix(err.Error(), "attestation: ") {
		t.Errorf("message %q lacks the package prefix", err)
	}
}

func TestVerifyFixture(t *testing.T) {
	f := attestationtest.New(t, t0)
	nonce := []byte("nonce-0123456789")
	data := f.Document(t, func(d *attestation.Document) {
		d.Nonce = nonce
		d.UserData = []byte("user data")
		d.PublicKey = []byte("public key")
	})
	opts := f.Options()
	opts.PCRs = attestationtest.PCRs()
	opts.Nonce = nonce
	opts.UserData = []byte("user data")
	opts.PublicKey = []byte("public key")
	opts.MaxAge = time.Minute
	doc, err := attestation.Verify(data, opts)
	if err != nil {
		t.Fatal(err)
	}
	if doc.ModuleID != f.Chain.ModuleID || !doc.Timestamp.Equal(t0) || !bytes.Equal(doc.Nonce, nonce) ||
		!doc.Certificate.Equal(f.Chain.Leaf) || len(doc.CABundle) != 4 || !doc.CABundle[0].Equal(f.Chain.Root) {
		t.Errorf("unexpected document %+v", doc)
	}

	// The AWS root alone does not trust the fixture's chain.
	doc, err = attestation.Verify(data, attestation.Options{CurrentTime: t0})
	wantCode(t, doc, err, "untrusted_chain", attestation.ErrUntrustedChain)
	doc, err = newVerifier(t, nil).Verify(data, attestation.Options{CurrentTime: t0})
	wantCode(t, doc, err, "untrusted_chain", attestation.ErrUntrustedChain)
	// Nor does another emulated root.
	other := attestationtest.New(t, t0)
	doc, err = attestation.Verify(data, other.Options())
	wantCode(t, doc, err, "untrusted_chain", attestation.ErrUntrustedChain)
	// Both roots together do.
	opts = f.Options()
	opts.Roots = append(other.Roots(), f.Roots()...)
	if _, err := attestation.Verify(data, opts); err != nil {
		t.Fatalf("two roots: %v", err)
	}
}

func TestVerifyAlgorithm(t *testing.T) {
	root, err := nitroca.NewRoot(rand.Reader, t0)
	if err != nil {
		t.Fatal(err)
	}
	for _, curve := range []elliptic.Curve{elliptic.P256(), elliptic.P521()} {
		t.Run(curve.Params().Name, func(t *testing.T) {
			c, err := root.IssueChain(rand.Reader, t0, &nitroca.Options{LeafCurve: curve})
			if err != nil {
				t.Fatal(err)
			}
			f := &attestationtest.Fixture{Chain: c, Now: t0}
			doc, err := attestation.Verify(f.Document(t), f.Options())
			wantCode(t, doc, err, "unsupported_algorithm", attestation.ErrUnsupportedAlgorithm)
		})
	}
	t.Run("RSA", func(t *testing.T) {
		f := attestationtest.New(t, t0)
		rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		leaf := issue(t, f.Chain.Instance, f.Chain.InstanceKey, &rsaKey.PublicKey, leafTemplate(t0), nil)
		s := f.Chain.Signer()
		s.Certificate = leaf // signed with the ECDSA key: the algorithm check comes first
		data, err := s.Sign(f.Defaults(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := attestation.Verify(data, f.Options())
		wantCode(t, doc, err, "unsupported_algorithm", attestation.ErrUnsupportedAlgorithm)
	})
}

func leafTemplate(at time.Time) *x509.Certificate {
	return &x509.Certificate{
		Subject:               pkix.Name{CommonName: "leaf"},
		NotBefore:             at,
		NotAfter:              at.Add(3 * time.Hour),
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature,
	}
}

func caTemplate(name string, at time.Time) *x509.Certificate {
	return &x509.Certificate{
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             at,
		NotAfter:              at.Add(24 * time.Hour),
		BasicConstraintsValid: true,
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
}

var serial int64

// issue signs tmpl for pub with parent's key.
func issue(t *testing.T, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, pub any, tmpl *x509.Certificate, _ any) *x509.Certificate {
	t.Helper()
	serial++
	tmpl.SerialNumber = big.NewInt(serial)
	tmpl.SignatureAlgorithm = x509.ECDSAWithSHA384
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestVerifyChain builds chains that break one PKIX rule each under the
// fixture's root: root -> ca1 -> ca2 -> leaf.
func TestVerifyChain(t *testing.T) {
	f := attestationtest.New(t, t0)
	tests := []struct {
		name     string
		ca1, ca2 func(*x509.Certificate)
		leaf     func(*x509.Certificate)
		bundle   func(root, ca1, ca2 *x509.Certificate) []*x509.Certificate
		code     string
	}{
		{name: "valid", code: ""},
		{name: "CA without basic constraints", ca2: func(c *x509.Certificate) { c.BasicConstraintsValid, c.IsCA = false, false }, code: "untrusted_chain"},
		{name: "CA:FALSE intermediate", ca2: func(c *x509.Certificate) { c.IsCA = false }, code: "untrusted_chain"},
		{name: "path length exceeded", ca1: func(c *x509.Certificate) { c.MaxPathLen, c.MaxPathLenZero = 0, true }, code: "untrusted_chain"},
		{name: "CA without keyCertSign", ca2: func(c *x509.Certificate) { c.KeyUsage = x509.KeyUsageDigitalSignature }, code: "untrusted_chain"},
		{name: "leaf without digitalSignature", leaf: func(c *x509.Certificate) { c.KeyUsage = x509.KeyUsageKeyEncipherment }, code: "untrusted_chain"},
		{name: "unknown critical extension", ca2: func(c *x509.Certificate) {
			c.ExtraExtensions = []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1}, Critical: true, Value: []byte{0x05, 0x00}}}
		}, code: "untrusted_chain"},
		{name: "intermediate missing", bundle: func(root, ca1, ca2 *x509.Certificate) []*x509.Certificate {
			return []*x509.Certificate{root, ca2}
		}, code: "untrusted_chain"},
		{name: "root not first", bundle: func(root, ca1, ca2 *x509.Certificate) []*x509.Certificate {
			return []*x509.Certificate{ca1, ca2, root}
		}, code: "untrusted_chain"},
		{name: "root absent", bundle: func(root, ca1, ca2 *x509.Certificate) []*x509.Certificate {
			return []*x509.Certificate{ca1, ca2}
		}, code: "untrusted_chain"},
		{name: "intermediate expired", ca1: func(c *x509.Certificate) { c.NotBefore, c.NotAfter = t0.Add(-48*time.Hour), t0.Add(-time.Hour) }, code: "certificate_expired"},
		{name: "intermediate not yet valid", ca2: func(c *x509.Certificate) { c.NotBefore = t0.Add(time.Hour) }, code: "certificate_not_yet_valid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k1, k2, kl := newKey(t), newKey(t), newKey(t)
			t1, t2, tl := caTemplate("ca1", t0), caTemplate("ca2", t0), leafTemplate(t0)
			for _, m := range []struct {
				f func(*x509.Certificate)
				c *x509.Certificate
			}{{tt.ca1, t1}, {tt.ca2, t2}, {tt.leaf, tl}} {
				if m.f != nil {
					m.f(m.c)
				}
			}
			ca1 := issue(t, f.Chain.Root, f.Chain.RootKey, &k1.PublicKey, t1, nil)
			ca2 := issue(t, ca1, k1, &k2.PublicKey, t2, nil)
			leaf := issue(t, ca2, k2, &kl.PublicKey, tl, nil)
			bundle := []*x509.Certificate{f.Chain.Root, ca1, ca2}
			if tt.bundle != nil {
				bundle = tt.bundle(f.Chain.Root, ca1, ca2)
			}
			s := &attestation.Signer{Key: kl, Certificate: leaf, CABundle: bundle}
			data, err := s.Sign(f.Defaults(), rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range []func([]byte, attestation.Options) (*attestation.Document, error){
				attestation.Verify,
				func(b []byte, o attestation.Options) (*attestation.Document, error) {
					o.Roots = nil
					return newVerifier(t, &attestation.VerifierConfig{Roots: f.Roots()}).Verify(b, o)
				},
			} {
				doc, err := v(data, f.Options())
				if tt.code == "" {
					if err != nil {
						t.Fatalf("valid chain: %v", err)
					}
					continue
				}
				if doc != nil || attestation.ErrorCode(err) != tt.code {
					t.Fatalf("doc %v, err %v, want %s", doc != nil, err, tt.code)
				}
			}
		})
	}
}

func TestVerifyValidity(t *testing.T) {
	f := attestationtest.New(t, t0)
	data := f.Document(t)
	leafEnd := f.Chain.Leaf.NotAfter
	opts := f.Options()

	// The leaf lives three hours; after that, the document only verifies at
	// its own time.
	opts.CurrentTime = leafEnd.Add(time.Second)
	doc, err := attestation.Verify(data, opts)
	wantCode(t, doc, err, "certificate_expired", attestation.ErrCertificateExpired)
	var ve *attestation.ValidityError
	if !errors.As(err, &ve) || ve.Position != "certificate" || !ve.NotAfter.Equal(leafEnd) ||
		!strings.Contains(err.Error(), "set Options.AtDocumentTime") {
		t.Errorf("validity error: %v", err)
	}
	opts.AtDocumentTime = true
	if _, err := attestation.Verify(data, opts); err != nil {
		t.Fatalf("at document time: %v", err)
	}
	// AtDocumentTime plus MaxAge bounds archived documents by the current time.
	opts.MaxAge = time.Hour
	doc, err = attestation.Verify(data, opts)
	wantCode(t, doc, err, "too_old", attestation.ErrTooOld)

	// Before the chain existed.
	opts = f.Options()
	opts.CurrentTime = t0.Add(-time.Second)
	doc, err = attestation.Verify(data, opts)
	wantCode(t, doc, err, "certificate_not_yet_valid", attestation.ErrCertificateNotYetValid)
	if !strings.Contains(err.Error(), "clock") {
		t.Errorf("not-yet-valid message %q names no fix", err)
	}

	// A leaf valid only after the document's time: not yet valid at
	// document time, whatever the current time.
	root := &nitroca.Root{Cert: f.Chain.Root, Key: f.Chain.RootKey}
	late, err := root.IssueChain(rand.Reader, t0, &nitroca.Options{LeafNotBefore: t0.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	lf := &attestationtest.Fixture{Chain: late, Now: t0}
	opts = lf.Options()
	opts.AtDocumentTime = true
	opts.CurrentTime = t0.Add(90 * time.Minute)
	doc, err = attestation.Verify(lf.Document(t), opts)
	wantCode(t, doc, err, "certificate_not_yet_valid", attestation.ErrCertificateNotYetValid)
	if !errors.As(err, &ve) || !ve.AtDocumentTime {
		t.Errorf("validity error: %v", err)
	}
}

func TestVerifyFreshness(t *testing.T) {
	f := attestationtest.New(t, t0)
	data := f.Document(t, func(d *attestation.Document) { d.Timestamp = t0.Add(30 * time.Minute) })
	opts := f.Options()
	tests := []struct {
		now    time.Time
		maxAge time.Duration
		skew   time.Duration
		code   string
	}{
		{t0.Add(30 * time.Minute), 0, 0, ""},
		{t0.Add(25*time.Minute + time.Millisecond), 0, 0, ""},            // within the default 5-minute skew
		{t0.Add(25*time.Minute - time.Millisecond), 0, 0, "from_future"}, // beyond it
		{t0.Add(20 * time.Minute), 0, 11 * time.Minute, ""},
		{t0.Add(20 * time.Minute), 0, 9 * time.Minute, "from_future"},
		{t0.Add(40 * time.Minute), 10 * time.Minute, 0, ""},
		{t0.Add(40*time.Minute + time.Millisecond), 10 * time.Minute, 0, "too_old"},
		{t0.Add(2 * time.Hour), 0, 0, ""}, // no MaxAge: only certificate validity
	}
	for _, tt := range tests {
		opts.CurrentTime, opts.MaxAge, opts.MaxFutureSkew = tt.now, tt.maxAge, tt.skew
		doc, err := attestation.Verify(data, opts)
		if got := attestation.ErrorCode(err); got != tt.code || (err != nil) != (doc == nil) {
			t.Errorf("now %s max age %s skew %s: err %v, want %q", tt.now, tt.maxAge, tt.skew, err, tt.code)
		}
		var fe *attestation.FreshnessError
		if err != nil && !errors.As(err, &fe) {
			t.Errorf("not a FreshnessError: %T", err)
		}
	}
}

func TestVerifyPCRs(t *testing.T) {
	f := attestationtest.New(t, t0)
	data := f.Document(t)
	want := attestationtest.PCRs()
	opts := f.Options()
	opts.PCRs = map[int][]byte{0: want[0], 4: want[4], 8: want[8]}
	if _, err := attestation.Verify(data, opts); err != nil {
		t.Fatalf("matching subset: %v", err)
	}
	bad0 := bytes.Repeat([]byte{0xaa}, 48)
	bad4 := bytes.Repeat([]byte{0xbb}, 48)
	opts.PCRs = map[int][]byte{4: bad4, 1: want[1], 0: bad0, 20: want[0]}
	doc, err := attestation.Verify(data, opts)
	wantCode(t, doc, err, "pcr_mismatch", attestation.ErrPCRMismatch)
	var pe *attestation.PCRMismatchError
	if !errors.As(err, &pe) {
		t.Fatalf("not a PCRMismatchError: %T", err)
	}
	wantMM := []attestation.PCRMismatch{{Index: 0, Want: bad0, Got: want[0]}, {Index: 4, Want: bad4, Got: want[4]}, {Index: 20, Want: want[0], Got: nil}}
	if len(pe.Mismatches) != len(wantMM) {
		t.Fatalf("mismatches %+v, want %+v", pe.Mismatches, wantMM)
	}
	for i, m := range pe.Mismatches {
		w := wantMM[i]
		if m.Index != w.Index || !bytes.Equal(m.Want, w.Want) || !bytes.Equal(m.Got, w.Got) || (m.Got == nil) != (w.Got == nil) {
			t.Errorf("mismatch %d: %+v, want %+v", i, m, w)
		}
	}
	var one attestation.PCRMismatch
	if !errors.As(err, &one) || one.Index != 0 {
		t.Errorf("errors.As PCRMismatch: %+v", one)
	}
	for _, s := range []string{"PCR0", "PCR4", "PCR20 is absent", "aaaa", "bbbb"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("message %q lacks %q", err, s)
		}
	}
}

func TestVerifyExpectedFields(t *testing.T) {
	f := attestationtest.New(t, t0)
	data := f.Document(t, func(d *attestation.Document) {
		d.Nonce = []byte("n1")
		d.UserData = []byte{}
	})
	tests := []struct {
		name string
		mod  func(o *attestation.Options)
		code string
	}{
		{"all match", func(o *attestation.Options) { o.Nonce, o.UserData = []byte("n1"), []byte{} }, ""},
		{"nonce differs", func(o *attestation.Options) { o.Nonce = []byte("n2") }, "nonce_mismatch"},
		{"nonce longer", func(o *attestation.Options) { o.Nonce = []byte("n1x") }, "nonce_mismatch"},
		{"user data differs", func(o *attestation.Options) { o.UserData = []byte("u") }, "user_data_mismatch"},
		{"public key null", func(o *attestation.Options) { o.PublicKey = []byte{} }, "public_key_mismatch"},
		{"public key expected", func(o *attestation.Options) { o.PublicKey = []byte("k") }, "public_key_mismatch"},
	}
	for _, tt := range tests {
		opts := f.Options()
		tt.mod(&opts)
		doc, err := attestation.Verify(data, opts)
		if got := attestation.ErrorCode(err); got != tt.code || (err != nil) != (doc == nil) {
			t.Errorf("%s: err %v, want %q", tt.name, err, tt.code)
		}
		var me *attestation.MismatchError
		if err != nil && (!errors.As(err, &me) || me.Code() != tt.code) {
			t.Errorf("%s: %T", tt.name, err)
		}
	}
}

func TestVerifyDebugMode(t *testing.T) {
	f := attestationtest.New(t, t0)
	data := f.Document(t, func(d *attestation.Document) {
		for i := range 3 {
			d.PCRs[i] = make([]byte, 48)
		}
	})
	doc, err := attestation.Verify(data, f.Options())
	wantCode(t, doc, err, "debug_mode", attestation.ErrDebugMode)
	if !strings.Contains(err.Error(), "AllowDebugUnsafe") {
		t.Errorf("message %q names no option", err)
	}
	opts := f.Options()
	opts.AllowDebugUnsafe = true
	if doc, err := attestation.Verify(data, opts); err != nil || !doc.Debug() {
		t.Fatalf("AllowDebugUnsafe: %v", err)
	}
	// One non-zero PCR among 0-2 is not debug mode.
	data = f.Document(t, func(d *attestation.Document) { d.PCRs[0], d.PCRs[1] = make([]byte, 48), make([]byte, 48) })
	if _, err := attestation.Verify(data, f.Options()); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyInvalidOptions(t *testing.T) {
	f := attestationtest.New(t, t0)
	data := f.Document(t)
	for name, o := range map[string]attestation.Options{
		"negative MaxAge":  {MaxAge: -1},
		"negative skew":    {MaxFutureSkew: -1},
		"PCR index 32":     {PCRs: map[int][]byte{32: nil}},
		"empty Roots":      {Roots: []*x509.Certificate{}},
		"nil root":         {Roots: []*x509.Certificate{nil}},
		"unparsed root":    {Roots: []*x509.Certificate{{}}},
		"negative PCR idx": {PCRs: map[int][]byte{-1: nil}},
		"PCR0 of 32 bytes": {PCRs: map[int][]byte{0: make([]byte, 32)}},
		"PCR3 of 64 bytes": {PCRs: map[int][]byte{3: make([]byte, 64)}},
		"PCR0 empty":       {PCRs: map[int][]byte{0: {}}},
	} {
		if o.Roots == nil {
			o.Roots = f.Roots()
		}
		o.CurrentTime = t0
		doc, err := attestation.Verify(data, o)
		if doc != nil || !errors.Is(err, attestation.ErrInvalidOptions) || attestation.ErrorCode(err) != "invalid_options" {
			t.Errorf("%s: %v", name, err)
		}
	}
	v := newVerifier(t, &attestation.VerifierConfig{Roots: f.Roots()})
	if _, err := v.Verify(data, f.Options()); !errors.Is(err, attestation.ErrInvalidOptions) {
		t.Errorf("Verifier with Options.Roots: %v", err)
	}
	for name, roots := range map[string][]*x509.Certificate{
		"empty roots":   {},
		"nil root":      {nil},
		"unparsed root": {{}},
	} {
		v, err := attestation.NewVerifier(&attestation.VerifierConfig{Roots: roots})
		if v != nil || !errors.Is(err, attestation.ErrInvalidOptions) || attestation.ErrorCode(err) != "invalid_options" {
			t.Errorf("NewVerifier with %s: %v, %v", name, v, err)
		}
	}
}

func TestVerifierCache(t *testing.T) {
	f := attestationtest.New(t, t0)
	v := newVerifier(t, &attestation.VerifierConfig{Roots: f.Roots(), CacheSize: 2})
	opts := attestation.Options{CurrentTime: t0}
	d1 := f.Document(t, func(d *attestation.Document) { d.Nonce = []byte("1") })
	d2 := f.Document(t, func(d *attestation.Document) { d.Nonce = []byte("2") })
	doc1, err := v.Verify(d1, opts)
	if err != nil {
		t.Fatal(err)
	}
	// A caller modifying a returned certificate does not change the cache.
	doc1.Certificate.PublicKey = &newKey(t).PublicKey
	doc1.CABundle[0].Raw = nil
	doc1.CABundle[1] = nil
	doc2, err := v.Verify(d2, opts)
	if err != nil {
		t.Fatalf("warm: %v", err)
	}
	if !bytes.Equal(doc2.Nonce, []byte("2")) || doc2.CABundle[1] == nil {
		t.Error("wrong document")
	}
	// Validity is checked at each verification, cached or not.
	opts.CurrentTime = f.Chain.Leaf.NotAfter.Add(time.Millisecond)
	doc, err := v.Verify(d2, opts)
	wantCode(t, doc, err, "certificate_expired", attestation.ErrCertificateExpired)
	opts.CurrentTime = t0.Add(-time.Millisecond)
	doc, err = v.Verify(d2, opts)
	wantCode(t, doc, err, "certificate_not_yet_valid", attestation.ErrCertificateNotYetValid)
	opts.AtDocumentTime = true
	if _, err := v.Verify(d2, opts); err != nil {
		t.Fatalf("warm at document time: %v", err)
	}

	// The warm path still checks the signature and the policy.
	bad := bytes.Clone(d2)
	bad[len(bad)-1] ^= 1
	doc, err = v.Verify(bad, attestation.Options{CurrentTime: t0})
	wantCode(t, doc, err, "bad_signature", attestation.ErrBadSignature)
	doc, err = v.Verify(d2, attestation.Options{CurrentTime: t0, Nonce: []byte("1")})
	wantCode(t, doc, err, "nonce_mismatch", attestation.ErrNonceMismatch)

	// The same leaf with a different bundle is a different chain: a chain
	// that fails is not cached and never accepted.
	s := f.Chain.Signer()
	s.CABundle = []*x509.Certificate{f.Chain.Root, f.Chain.Regional, f.Chain.Instance}
	broken, err := s.Sign(f.Defaults(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		doc, err = v.Verify(broken, attestation.Options{CurrentTime: t0})
		wantCode(t, doc, err, "untrusted_chain", attestation.ErrUntrustedChain)
	}
	// A document from another root signed with a cached leaf's bytes cannot
	// ride on the cache either: its own chain is untrusted.
	other := attestationtest.New(t, t0)
	doc, err = v.Verify(other.Document(t), attestation.Options{CurrentTime: t0})
	wantCode(t, doc, err, "untrusted_chain", attestation.ErrUntrustedChain)
}

func TestVerifierConcurrent(t *testing.T) {
	fs := []*attestationtest.Fixture{attestationtest.New(t, t0), attestationtest.New(t, t0), attestationtest.New(t, t0)}
	root := &nitroca.Root{Cert: fs[0].Chain.Root, Key: fs[0].Chain.RootKey}
	for i := 1; i < len(fs); i++ {
		c, err := root.IssueChain(rand.Reader, t0, nil)
		if err != nil {
			t.Fatal(err)
		}
		fs[i].Chain = c
	}
	var docs [][]byte
	for _, f := range fs {
		docs = append(docs, f.Document(t))
	}
	v := newVerifier(t, &attestation.VerifierConfig{Roots: fs[0].Roots(), CacheSize: 2}) // smaller than the working set
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 6 {
				if _, err := v.Verify(docs[(g+i)%len(docs)], attestation.Options{CurrentTime: t0}); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestNitroTPMEmulated: documents the Signer makes in NitroTPM shape verify
// with the NitroTPM entry points only, with PCR policies over
// nitrotpm_pcrs; enclave documents are refused by them.
func TestNitroTPMEmulated(t *testing.T) {
	f := attestationtest.New(t, t0)
	nonce := []byte("tpm nonce")
	data := f.NitroTPMDocument(t, func(d *attestation.NitroTPMDocument) { d.Nonce = nonce })
	enclaveDoc := f.Document(t)
	v := newVerifier(t, &attestation.VerifierConfig{Roots: f.Roots()})
	vo := attestation.Options{CurrentTime: t0}
	pcrs := attestationtest.NitroTPMPCRs()

	for name, verify := range map[string]func([]byte, attestation.Options) (*attestation.NitroTPMDocument, error){
		"VerifyNitroTPM": func(b []byte, o attestation.Options) (*attestation.NitroTPMDocument, error) {
			o.Roots = f.Roots()
			return attestation.VerifyNitroTPM(b, o)
		},
		"Verifier.VerifyNitroTPM": v.VerifyNitroTPM,
	} {
		doc, err := verify(data, attestation.Options{CurrentTime: t0, Nonce: nonce, PCRs: map[int][]byte{0: pcrs[0], 23: pcrs[23]}})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(doc.PCRs) != 24 || !bytes.Equal(doc.Nonce, nonce) || !strings.HasSuffix(doc.ModuleID, "-tpm0000000000000000") ||
			!doc.Certificate.Equal(f.Chain.Leaf) || len(doc.CABundle) != 4 {
			t.Errorf("%s: unexpected document %+v", name, doc)
		}
		// PCR policies are over nitrotpm_pcrs: the enclave fixture's PCR0
		// is not the NitroTPM's.
		doc, err = verify(data, attestation.Options{CurrentTime: t0, PCRs: map[int][]byte{0: attestationtest.PCRs()[0]}})
		var pm *attestation.PCRMismatchError
		if doc != nil || !errors.As(err, &pm) || len(pm.Mismatches) != 1 || pm.Mismatches[0].Index != 0 {
			t.Errorf("%s: PCR policy: %v", name, err)
		}
		// An enclave document is refused with its own code.
		doc, err = verify(enclaveDoc, vo)
		if doc != nil || !errors.Is(err, attestation.ErrNotNitroTPM) || attestation.ErrorCode(err) != "not_nitrotpm" {
			t.Errorf("%s: enclave document: %v", name, err)
		}
		// A NitroTPM document with all-zero PCR0-2 is not "debug mode":
		// NitroTPM documents have none.
		zero := f.NitroTPMDocument(t, func(d *attestation.NitroTPMDocument) {
			for i := range 3 {
				d.PCRs[i] = make([]byte, 48)
			}
		})
		if _, err := verify(zero, vo); err != nil {
			t.Errorf("%s: zero PCR0-2: %v", name, err)
		}
	}
	// And the enclave entry points refuse the NitroTPM document, even with
	// its chain cached by the NitroTPM verification above.
	for name, verify := range map[string]func([]byte, attestation.Options) (*attestation.Document, error){
		"Verify": func(b []byte, o attestation.Options) (*attestation.Document, error) {
			o.Roots = f.Roots()
			return attestation.Verify(b, o)
		},
		"Verifier.Verify": v.Verify,
	} {
		if doc, err := verify(data, vo); doc != nil || !errors.Is(err, attestation.ErrNotEnclave) {
			t.Errorf("%s: NitroTPM document: %v", name, err)
		}
	}
	if _, err := attestation.ParseNitroTPM(enclaveDoc); !errors.Is(err, attestation.ErrNotNitroTPM) {
		t.Errorf("ParseNitroTPM of an enclave document: %v", err)
	}
	if _, err := attestation.Parse(data); !errors.Is(err, attestation.ErrNotEnclave) {
		t.Errorf("Parse of a NitroTPM document: %v", err)
	}
}
