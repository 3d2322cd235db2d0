// SPDX-License-Identifier: Apache-2.0

package attestation_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/enclavekit/enclavekit/attestation"
	"github.com/enclavekit/enclavekit/internal/attestationtest"
	"github.com/enclavekit/enclavekit/internal/nitroca"
	"github.com/enclavekit/enclavekit/testvectors"
)

// path says which way step 4 must go for a document in the differential
// tests, when the Verifier has the document's CA bundle cached.
type path int

const (
	anyPath  path = iota // either (the verdict is what matters)
	fastPath             // the semi-cold path decides
	fullPath             // crypto/x509 decides
)

// diffCase is one document and a document that primes a Verifier with its
// CA bundle (prime may fail to verify: then nothing is cached).
type diffCase struct {
	name        string
	prime, doc  []byte
	opts        attestation.Options // with Roots; CurrentTime set
	path        path
	wantCode    string // "" for valid
	wantNoCache bool   // the CA bundle must not be cached for the fast path
}

// runDiff verifies c.doc with the package-level Verify (crypto/x509 every
// time) and with a Verifier primed with c.prime (the semi-cold path where
// it applies), and checks that both give the same verdict and code.
func runDiff(t *testing.T, c diffCase) {
	t.Helper()
	full, fullErr := attestation.Verify(c.doc, c.opts)
	roots := c.opts.Roots
	o := c.opts
	o.Roots = nil
	v := newVerifier(t, &attestation.VerifierConfig{Roots: roots})
	if c.prime != nil {
		_, _ = v.Verify(c.prime, o)
	}
	if c.wantNoCache && attestation.VerifierCachedCAs(v) != 0 {
		t.Errorf("%s: the CA bundle was cached for the semi-cold path", c.name)
	}
	f0, s0 := attestation.VerifierStats(v)
	semi, semiErr := v.Verify(c.doc, o)
	f1, s1 := attestation.VerifierStats(v)
	if attestation.ErrorCode(fullErr) != attestation.ErrorCode(semiErr) || (full == nil) != (semi == nil) {
		t.Errorf("%s: full path: %v; semi-cold Verifier: %v", c.name, fullErr, semiErr)
	}
	if got := attestation.ErrorCode(fullErr); got != c.wantCode {
		t.Errorf("%s: code %q (%v), want %q", c.name, got, fullErr, c.wantCode)
	}
	switch {
	case c.path == fastPath && (s1-s0 != 1 || f1 != f0):
		t.Errorf("%s: semi-cold path not taken (full %d, fast %d)", c.name, f1-f0, s1-s0)
	case c.path == fullPath && s1 != s0:
		t.Errorf("%s: the semi-cold path decided; crypto/x509 must", c.name)
	}
}

// leafMaker issues leaves under a fixture's chain for the differential
// tests.
type leafMaker struct {
	t *testing.T
	f *attestationtest.Fixture
}

// leafTmpl is an AWS-shaped leaf template valid at t0.
func leafTmpl(name string) *x509.Certificate {
	return &x509.Certificate{
		Subject:               pkix.Name{CommonName: name, Organization: []string{"diff"}},
		NotBefore:             t0.Add(-time.Minute),
		NotAfter:              t0.Add(3 * time.Hour),
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		SignatureAlgorithm:    x509.ECDSAWithSHA384,
	}
}

var diffSerial int64 = 1 << 40

// issueDER signs tmpl for pub by parent with parentKey and returns the DER.
func issueDER(t *testing.T, tmpl, parent *x509.Certificate, pub any, parentKey crypto.Signer) []byte {
	t.Helper()
	diffSerial++
	tmpl.SerialNumber = big.NewInt(diffSerial)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func parseCert(t *testing.T, der []byte) *x509.Certificate {
	t.Helper()
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// doc signs the fixture's default document with leaf and its key under the
// fixture's CA bundle (or bundle when given).
func (m *leafMaker) doc(leaf *x509.Certificate, key crypto.Signer, bundle ...*x509.Certificate) []byte {
	m.t.Helper()
	c := m.f.Chain
	if bundle == nil {
		bundle = []*x509.Certificate{c.Root, c.Regional, c.Zonal, c.Instance}
	}
	s := &attestation.Signer{Key: key, Certificate: leaf, CABundle: bundle}
	d := m.f.Defaults()
	data, err := s.Sign(d, rand.Reader)
	if err != nil {
		m.t.Fatal(err)
	}
	return data
}

// leaf issues tmpl (after mod) under the instance CA with a new P-384 key
// and returns the signed document.
func (m *leafMaker) leaf(mod func(*x509.Certificate)) []byte {
	m.t.Helper()
	key := newKey(m.t)
	tmpl := leafTmpl("leaf")
	if mod != nil {
		mod(tmpl)
	}
	c := m.f.Chain
	return m.doc(parseCert(m.t, issueDER(m.t, tmpl, c.Instance, &key.PublicKey, c.InstanceKey)), key)
}

// certParts is a certificate split for re-signing.
type certParts struct {
	TBS asn1.RawValue
	Alg asn1.RawValue
	Sig asn1.BitString
}

// editSignature rewrites the signature BIT STRING of a certificate.
func editSignature(t *testing.T, der []byte, edit func(sig []byte) []byte) []byte {
	t.Helper()
	var p certParts
	if rest, err := asn1.Unmarshal(der, &p); err != nil || len(rest) != 0 {
		t.Fatalf("certificate: %v", err)
	}
	sig := edit(bytes.Clone(p.Sig.Bytes))
	p.Sig = asn1.BitString{Bytes: sig, BitLength: 8 * len(sig)}
	out, err := asn1.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSemiColdDifferential runs leaves under an already verified CA bundle
// (and CA bundles with what the semi-cold path does not evaluate) through
// the full crypto/x509 path and through a Verifier that has the bundle
// cached: both must give the same verdict with the same code, and the path
// that decides must be the expected one.
func TestSemiColdDifferential(t *testing.T) {
	f := attestationtest.New(t, t0.Add(-time.Hour))
	f.Now = t0
	m := &leafMaker{t: t, f: f}
	c := f.Chain
	prime := f.Document(t)
	opts := f.Options()
	n384 := elliptic.P384().Params().N
	unknownExt := func(critical bool) func(*x509.Certificate) {
		return func(l *x509.Certificate) {
			l.ExtraExtensions = []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 7}, Critical: critical, Value: []byte{0x05, 0x00}}}
		}
	}
	withLeaf := func(name string, mod func(*x509.Certificate), p path, code string) diffCase {
		return diffCase{name: name, prime: prime, doc: m.leaf(mod), opts: opts, path: p, wantCode: code}
	}
	cases := []diffCase{
		withLeaf("new leaf", nil, fastPath, ""),
		withLeaf("leaf without key usage", func(l *x509.Certificate) { l.KeyUsage = 0 }, fastPath, ""),
		withLeaf("leaf key usage without digitalSignature", func(l *x509.Certificate) { l.KeyUsage = x509.KeyUsageKeyEncipherment }, fullPath, "untrusted_chain"),
		withLeaf("leaf CA:TRUE", func(l *x509.Certificate) { l.IsCA = true; l.KeyUsage |= x509.KeyUsageCertSign }, fastPath, ""),
		withLeaf("leaf without basic constraints", func(l *x509.Certificate) { l.BasicConstraintsValid = false }, fastPath, ""),
		withLeaf("leaf expired", func(l *x509.Certificate) { l.NotBefore, l.NotAfter = t0.Add(-4*time.Hour), t0.Add(-time.Hour) }, anyPath, "certificate_expired"),
		withLeaf("leaf not yet valid", func(l *x509.Certificate) { l.NotBefore = t0.Add(time.Minute) }, anyPath, "certificate_not_yet_valid"),
		withLeaf("leaf ECDSA-SHA256", func(l *x509.Certificate) { l.SignatureAlgorithm = x509.ECDSAWithSHA256 }, fullPath, ""),
		withLeaf("leaf ECDSA-SHA512", func(l *x509.Certificate) { l.SignatureAlgorithm = x509.ECDSAWithSHA512 }, fullPath, ""),
		withLeaf("leaf unknown critical extension", unknownExt(true), fullPath, "untrusted_chain"),
		withLeaf("leaf unknown non-critical extension", unknownExt(false), fullPath, ""),
		withLeaf("leaf requireExplicitPolicy 0", func(l *x509.Certificate) {
			l.ExtraExtensions = []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 36}, Critical: true, Value: []byte{0x30, 0x03, 0x80, 0x01, 0x00}}}
		}, fullPath, "untrusted_chain"),
		withLeaf("leaf certificate policies", func(l *x509.Certificate) {
			l.Policies = []x509.OID{mustOID(t, "1.3.6.1.4.1.99999.1")}
		}, fullPath, ""),
		withLeaf("leaf SAN", func(l *x509.Certificate) { l.DNSNames = []string{"enclave.example"} }, fullPath, ""),
		withLeaf("leaf with the instance CA's subject", func(l *x509.Certificate) { l.Subject = c.Instance.Subject }, fullPath, ""),
		withLeaf("leaf with the root's subject", func(l *x509.Certificate) { l.Subject = c.Root.Subject }, fullPath, ""),
	}

	// Leaves signed otherwise.
	key := newKey(t)
	// A parent with the instance CA's name and key identifier but the
	// zonal CA's key: the leaf names the instance CA and is signed by the
	// zonal key.
	impostor := &x509.Certificate{RawSubject: c.Instance.RawSubject, SubjectKeyId: c.Instance.SubjectKeyId, PublicKey: &c.ZonalKey.PublicKey}
	wrongSigner := parseCert(t, issueDER(t, leafTmpl("wrong signer"), impostor, &key.PublicKey, c.ZonalKey))
	cases = append(cases, diffCase{name: "leaf naming the instance CA, signed by the zonal CA", prime: prime, doc: m.doc(wrongSigner, key), opts: opts, path: fastPath, wantCode: "untrusted_chain"})
	underZonal := parseCert(t, issueDER(t, leafTmpl("under zonal"), c.Zonal, &key.PublicKey, c.ZonalKey))
	cases = append(cases, diffCase{name: "leaf issued by the zonal CA", prime: prime, doc: m.doc(underZonal, key), opts: opts, path: fullPath, wantCode: ""})
	underRoot := parseCert(t, issueDER(t, leafTmpl("under root"), c.Root, &key.PublicKey, c.RootKey))
	cases = append(cases, diffCase{name: "leaf issued by the root", prime: prime, doc: m.doc(underRoot, key), opts: opts, path: fullPath, wantCode: ""})
	sameKey := leafTmpl("same key")
	sameKey.Subject = c.Instance.Subject
	sameKeyLeaf := parseCert(t, issueDER(t, sameKey, c.Instance, &c.InstanceKey.PublicKey, c.InstanceKey))
	cases = append(cases, diffCase{name: "leaf with the instance CA's subject and key", prime: prime, doc: m.doc(sameKeyLeaf, c.InstanceKey), opts: opts, path: fullPath, wantCode: "untrusted_chain"})
	p256 := func() *ecdsa.PrivateKey { k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader); return k }()
	p256Leaf := parseCert(t, issueDER(t, leafTmpl("p256"), c.Instance, &p256.PublicKey, c.InstanceKey))
	cases = append(cases, diffCase{name: "leaf P-256 key", prime: prime, doc: m.doc(p256Leaf, p256), opts: opts, path: anyPath, wantCode: "unsupported_algorithm"})

	// The leaf's certificate signature, edited.
	goodDER := issueDER(t, leafTmpl("edited"), c.Instance, &key.PublicKey, c.InstanceKey)
	type ecSig struct{ R, S *big.Int }
	sigEdits := []struct {
		name string
		edit func([]byte) []byte
		p    path
		code string
	}{
		{"leaf signature high-S", func(b []byte) []byte {
			var s ecSig
			asn1.Unmarshal(b, &s)
			s.S.Sub(n384, s.S)
			out, _ := asn1.Marshal(s)
			return out
		}, fastPath, ""},
		{"leaf signature byte flipped", func(b []byte) []byte { b[len(b)-5] ^= 0x10; return b }, fastPath, "untrusted_chain"},
		{"leaf signature r = 0", func(b []byte) []byte {
			var s ecSig
			asn1.Unmarshal(b, &s)
			out, _ := asn1.Marshal(ecSig{big.NewInt(0), s.S})
			return out
		}, fastPath, "untrusted_chain"},
		{"leaf signature s = N", func(b []byte) []byte {
			var s ecSig
			asn1.Unmarshal(b, &s)
			out, _ := asn1.Marshal(ecSig{s.R, new(big.Int).Set(n384)})
			return out
		}, fastPath, "untrusted_chain"},
		{"leaf signature with trailing byte", func(b []byte) []byte { return append(b, 0) }, fastPath, "untrusted_chain"},
		{"leaf signature non-minimal INTEGER", func(b []byte) []byte {
			var s ecSig
			asn1.Unmarshal(b, &s)
			r := append([]byte{0x00, 0x00}, s.R.Bytes()...)
			body := append([]byte{0x02, byte(len(r))}, r...)
			sb := s.S.Bytes()
			if sb[0]&0x80 != 0 {
				sb = append([]byte{0}, sb...)
			}
			body = append(body, append([]byte{0x02, byte(len(sb))}, sb...)...)
			return append([]byte{0x30, byte(len(body))}, body...)
		}, fastPath, "untrusted_chain"},
		{"leaf signature empty", func([]byte) []byte { return nil }, fastPath, "untrusted_chain"},
	}
	for _, e := range sigEdits {
		der := editSignature(t, goodDER, e.edit)
		leaf, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatalf("%s: %v", e.name, err)
		}
		cases = append(cases, diffCase{name: e.name, prime: prime, doc: m.doc(leaf, key), opts: opts, path: e.p, wantCode: e.code})
	}

	// CA bundles that the semi-cold path must leave to crypto/x509.
	caCase := func(name string, zonal func(*x509.Certificate), leafMod func(*x509.Certificate), code string) diffCase {
		zk, ik := newKey(t), newKey(t)
		zt := &x509.Certificate{Subject: pkix.Name{CommonName: name + " zonal"}, NotBefore: t0.Add(-time.Hour), NotAfter: t0.Add(24 * time.Hour),
			BasicConstraintsValid: true, IsCA: true, MaxPathLen: 1, KeyUsage: x509.KeyUsageCertSign, SignatureAlgorithm: x509.ECDSAWithSHA384}
		if zonal != nil {
			zonal(zt)
		}
		z := parseCert(t, issueDER(t, zt, c.Regional, &zk.PublicKey, c.RegionalKey))
		it := &x509.Certificate{Subject: pkix.Name{CommonName: name + " instance"}, NotBefore: t0.Add(-time.Hour), NotAfter: t0.Add(24 * time.Hour),
			BasicConstraintsValid: true, IsCA: true, MaxPathLenZero: true, KeyUsage: x509.KeyUsageCertSign, SignatureAlgorithm: x509.ECDSAWithSHA384}
		in := parseCert(t, issueDER(t, it, z, &ik.PublicKey, zk))
		bundle := []*x509.Certificate{c.Root, c.Regional, z, in}
		lk := newKey(t)
		good := parseCert(t, issueDER(t, leafTmpl("good"), in, &lk.PublicKey, ik))
		lt := leafTmpl("mutated")
		if leafMod != nil {
			leafMod(lt)
		}
		bad := parseCert(t, issueDER(t, lt, in, &lk.PublicKey, ik))
		return diffCase{name: name, prime: m.doc(good, lk, bundle...), doc: m.doc(bad, lk, bundle...), opts: opts,
			path: fullPath, wantCode: code, wantNoCache: true}
	}
	cases = append(cases,
		caCase("name constraints, leaf outside", func(z *x509.Certificate) { z.PermittedDNSDomains = []string{"example.com"} },
			func(l *x509.Certificate) { l.DNSNames = []string{"evil.test"} }, "untrusted_chain"),
		caCase("name constraints, leaf inside", func(z *x509.Certificate) { z.PermittedDNSDomains = []string{"example.com"} },
			func(l *x509.Certificate) { l.DNSNames = []string{"a.example.com"} }, ""),
		caCase("excluded names", func(z *x509.Certificate) { z.ExcludedDNSDomains = []string{"evil.test"} },
			func(l *x509.Certificate) { l.DNSNames = []string{"evil.test"} }, "untrusted_chain"),
		caCase("CA requireExplicitPolicy 0", func(z *x509.Certificate) {
			z.ExtraExtensions = []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 36}, Critical: true, Value: []byte{0x30, 0x03, 0x80, 0x01, 0x00}}}
		}, nil, "untrusted_chain"),
		caCase("CA certificate policies", func(z *x509.Certificate) { z.Policies = []x509.OID{mustOID(t, "1.3.6.1.4.1.99999.2")} }, nil, ""),
		caCase("zonal path length 0", func(z *x509.Certificate) { z.MaxPathLen, z.MaxPathLenZero = 0, true }, nil, "untrusted_chain"),
		caCase("CA unknown non-critical extension", unknownExt(false), nil, ""),
	)
	// A bundle with two certificates of one subject: path building has a
	// choice, so no fast path.
	dup := diffCase{name: "duplicate subjects in cabundle", opts: opts, path: fullPath, wantNoCache: true}
	{
		bundle := []*x509.Certificate{c.Root, c.Regional, c.Zonal, c.Instance, c.Instance}
		dup.prime = m.doc(c.Leaf, c.LeafKey, bundle...)
		k := newKey(t)
		dup.doc = m.doc(parseCert(t, issueDER(t, leafTmpl("dup"), c.Instance, &k.PublicKey, c.InstanceKey)), k, bundle...)
	}
	cases = append(cases, dup)

	for _, tc := range cases {
		runDiff(t, tc)
	}
	t.Logf("%d leaf and CA mutations", len(cases))
}

// TestSemiColdDifferentialVectors runs every generated document of
// testvectors/ through the full path and through a Verifier primed with
// each valid one in turn, so that every invalid_* document whose CA bundle
// a valid one shares meets the semi-cold path.
func TestSemiColdDifferentialVectors(t *testing.T) {
	man, roots, err := testvectors.Load(testvectors.FS)
	if err != nil {
		t.Fatal(err)
	}
	type vec struct {
		name string
		data []byte
		opts attestation.Options
		code string
	}
	var all, primes []vec
	bundles := map[string]bool{} // one prime per CA bundle
	for _, v := range man.Vectors {
		data, err := fs.ReadFile(testvectors.FS, v.File)
		if err != nil {
			t.Fatal(err)
		}
		o, err := v.Options(roots)
		if err != nil {
			t.Fatal(err)
		}
		code := v.Expect
		if code == testvectors.Valid {
			code = ""
			d, err := attestation.Parse(data)
			if err != nil {
				t.Fatal(err)
			}
			var b []byte
			for _, c := range d.CABundle {
				b = append(b, c.Raw...)
			}
			if !bundles[string(b)] {
				bundles[string(b)] = true
				primes = append(primes, vec{v.File, data, o, code})
			}
		}
		all = append(all, vec{v.File, data, o, code})
	}
	var fast int64
	for _, p := range primes {
		for _, v := range all {
			po := p.opts
			po.Roots = nil
			vo := v.opts
			vo.Roots = nil
			full, fullErr := attestation.Verify(v.data, v.opts)
			vf := newVerifier(t, &attestation.VerifierConfig{Roots: roots})
			_, _ = vf.Verify(p.data, po)
			semi, semiErr := vf.Verify(v.data, vo)
			if attestation.ErrorCode(fullErr) != attestation.ErrorCode(semiErr) || (full == nil) != (semi == nil) {
				t.Errorf("%s after %s: full path: %v; semi-cold Verifier: %v", v.name, p.name, fullErr, semiErr)
			}
			if attestation.ErrorCode(fullErr) != v.code {
				t.Errorf("%s: code %q, want %q", v.name, attestation.ErrorCode(fullErr), v.code)
			}
			_, s := attestation.VerifierStats(vf)
			fast += s
		}
	}
	t.Logf("%d primes × %d vectors, %d decided by the semi-cold path", len(primes), len(all), fast)
}

func mustOID(t *testing.T, s string) x509.OID {
	t.Helper()
	o, err := x509.ParseOID(s)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// TestColdBurst: concurrent documents with one uncached chain verify that
// chain once, and every one of them verifies.
func TestColdBurst(t *testing.T) {
	f := attestationtest.New(t, t0)
	docs := make([][]byte, 64)
	for i := range docs {
		docs[i] = f.Document(t, func(d *attestation.Document) { d.Nonce = []byte{byte(i)} })
	}
	for _, size := range []int{0, -1} {
		v := newVerifier(t, &attestation.VerifierConfig{Roots: f.Roots(), CacheSize: size})
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make([]error, len(docs))
		for i, d := range docs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, errs[i] = v.Verify(d, attestation.Options{CurrentTime: t0})
			}()
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("cache size %d, document %d: %v", size, i, err)
			}
		}
		full, fast := attestation.VerifierStats(v)
		t.Logf("cache size %d: %d chain verifications for %d concurrent documents", size, full, len(docs))
		if size == 0 && (full != 1 || fast != 0) {
			t.Errorf("cache size %d: %d full and %d fast chain verifications, want 1 full", size, full, fast)
		}
		if full < 1 || full > int64(len(docs)) {
			t.Errorf("cache size %d: %d chain verifications", size, full)
		}
	}
	// A burst of documents with a bad chain: all fail with the same code.
	other := attestationtest.New(t, t0)
	bad := other.Document(t)
	v := newVerifier(t, &attestation.VerifierConfig{Roots: f.Roots()})
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if doc, err := v.Verify(bad, attestation.Options{CurrentTime: t0}); doc != nil || attestation.ErrorCode(err) != "untrusted_chain" {
				t.Errorf("untrusted chain: %v", err)
			}
		}()
	}
	wg.Wait()
	_ = nitroca.LeafValidity
}

// TestForgedLeavesStayCheap is the parent instance's cheapest attack on a
// key service's CPU: documents whose leaves name a CA bundle the service
// has verified, signed by keys of the attacker's own. Each must be
// rejected after one (fast) signature check, never a chain verification.
func TestForgedLeavesStayCheap(t *testing.T) {
	f := attestationtest.New(t, t0.Add(-time.Hour))
	f.Now = t0
	c := f.Chain
	m := &leafMaker{t: t, f: f}
	v := newVerifier(t, &attestation.VerifierConfig{Roots: f.Roots()})
	if _, err := v.Verify(f.Document(t), attestation.Options{CurrentTime: t0}); err != nil {
		t.Fatal(err)
	}
	attacker := newKey(t)
	impostor := &x509.Certificate{RawSubject: c.Instance.RawSubject, SubjectKeyId: c.Instance.SubjectKeyId, PublicKey: &attacker.PublicKey}
	const n = 20
	for i := range n {
		k := newKey(t)
		leaf := parseCert(t, issueDER(t, leafTmpl(fmt.Sprintf("forged %d", i)), impostor, &k.PublicKey, attacker))
		doc, err := v.Verify(m.doc(leaf, k), attestation.Options{CurrentTime: t0})
		if doc != nil || attestation.ErrorCode(err) != "untrusted_chain" {
			t.Fatalf("forged leaf %d: %v", i, err)
		}
	}
	if full, fast := attestation.VerifierStats(v); full != 1 || fast != n {
		t.Errorf("%d chain verifications and %d fast leaf checks for 1 good and %d forged documents", full, fast, n)
	}
}

// TestSemiColdMutatedDocumentCannotChangeVerdicts: a caller modifying the
// certificates of a returned Document (read-only by contract, but shared
// pointers) cannot change what the semi-cold path decides for later
// documents under the same CA bundle: neither by swapping a CA's key (a
// leaf signed by another key, handed to crypto/x509 for its SAN, must stay
// an untrusted chain) nor by moving a CA's validity (a leaf under an
// expired CA must stay certificate_expired). Before the cached CA bundle
// held private copies, both were accepted.
func TestSemiColdMutatedDocumentCannotChangeVerdicts(t *testing.T) {
	f := attestationtest.New(t, t0.Add(-time.Hour))
	f.Now = t0
	c := f.Chain
	m := &leafMaker{t: t, f: f}
	v := newVerifier(t, &attestation.VerifierConfig{Roots: f.Roots()})
	d, err := v.Verify(f.Document(t), attestation.Options{CurrentTime: t0})
	if err != nil {
		t.Fatal(err)
	}
	attacker := newKey(t)
	d.CABundle[3].PublicKey = &attacker.PublicKey
	d.CABundle[3].NotAfter = t0.Add(100 * 24 * time.Hour)

	// A leaf naming the instance CA, signed by the attacker's key, with a
	// SAN so that the fast path leaves it to crypto/x509.
	impostor := &x509.Certificate{RawSubject: c.Instance.RawSubject, SubjectKeyId: c.Instance.SubjectKeyId, PublicKey: &attacker.PublicKey}
	tmpl := leafTmpl("forged")
	tmpl.DNSNames = []string{"x.example"}
	k := newKey(t)
	forged := m.doc(parseCert(t, issueDER(t, tmpl, impostor, &k.PublicKey, attacker)), k)
	if _, err := attestation.Verify(forged, attestation.Options{Roots: f.Roots(), CurrentTime: t0}); !errors.Is(err, attestation.ErrUntrustedChain) {
		t.Fatalf("package Verify of the forged leaf: %v, want an untrusted chain", err)
	}
	got, err := v.Verify(forged, attestation.Options{CurrentTime: t0})
	wantCode(t, got, err, "untrusted_chain", attestation.ErrUntrustedChain)

	// A genuine leaf under the instance CA, verified after the CA expired.
	later := c.Instance.NotAfter.Add(time.Hour)
	tmpl = leafTmpl("late")
	tmpl.NotBefore, tmpl.NotAfter = later.Add(-time.Minute), later.Add(3*time.Hour)
	late := m.doc(parseCert(t, issueDER(t, tmpl, c.Instance, &k.PublicKey, c.InstanceKey)), k)
	got, err = v.Verify(late, attestation.Options{CurrentTime: later})
	wantCode(t, got, err, "certificate_expired", attestation.ErrCertificateExpired)
}

// TestEmptyKeyUsageExtension: a leaf whose key usage extension is present
// but has no bit set (crypto/x509 reads KeyUsage 0, as for no extension)
// may be used for nothing (RFC 5280 §4.2.1.3), so not to sign documents:
// refused by Verify and by a Verifier's fast path alike. crypto/x509 alone
// accepts it.
func TestEmptyKeyUsageExtension(t *testing.T) {
	f := attestationtest.New(t, t0.Add(-time.Hour))
	f.Now = t0
	m := &leafMaker{t: t, f: f}
	v := newVerifier(t, &attestation.VerifierConfig{Roots: f.Roots()})
	if _, err := v.Verify(f.Document(t), attestation.Options{CurrentTime: t0}); err != nil {
		t.Fatal(err) // caches the CA bundle: the next leaf takes the fast path
	}
	doc := m.leaf(func(l *x509.Certificate) {
		l.KeyUsage = 0
		l.ExtraExtensions = []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 15}, Critical: true, Value: []byte{0x03, 0x01, 0x00}}}
	})
	for name, verify := range map[string]func() (*attestation.Document, error){
		"Verify":   func() (*attestation.Document, error) { return attestation.Verify(doc, f.Options()) },
		"Verifier": func() (*attestation.Document, error) { return v.Verify(doc, attestation.Options{CurrentTime: t0}) },
	} {
		d, err := verify()
		var ce *attestation.ChainError
		if d != nil || !errors.As(err, &ce) || !strings.Contains(err.Error(), "lacks digitalSignature") {
			t.Errorf("%s: %v, %v; want a ChainError (lacks digitalSignature)", name, d != nil, err)
		}
	}
}
