// SPDX-License-Identifier: Apache-2.0

package attestationtest

import (
	"crypto/rand"
	"crypto/sha512"
	"crypto/x509"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/enclavekit/enclavekit/attestation"
	"github.com/enclavekit/enclavekit/internal/nitroca"
)

// Fixture is an emulated Nitro CA chain and a clock for minting documents.
// Its methods are safe for concurrent use as long as Chain is not rotated
// concurrently.
type Fixture struct {
	// Chain signs the documents; rotate its leaf or replace it as needed.
	Chain *nitroca.Chain
	// Now is the default document timestamp and verification time.
	Now time.Time

	tb testing.TB // from New, for Doc
}

// New returns a fixture with a new chain whose certificates all start at
// now (the leaf is valid for 3 hours from now). It fails tb on error.
func New(tb testing.TB, now time.Time) *Fixture {
	tb.Helper()
	c, err := nitroca.NewChain(rand.Reader, now)
	if err != nil {
		tb.Fatalf("attestationtest: %v", err)
	}
	return &Fixture{Chain: c, Now: now, tb: tb}
}

// PCRs returns the default PCR values: indexes 0-15, 48 bytes each; PCR0,
// PCR1, PCR2 and PCR4 are SHA-384("enclavekit test PCR<n>"), the others
// zero. The map is a fresh copy.
func PCRs() map[int][]byte {
	m := make(map[int][]byte, 16)
	for i := range 16 {
		v := make([]byte, sha512.Size384)
		if i <= 2 || i == 4 {
			h := sha512.Sum384(fmt.Appendf(nil, "enclavekit test PCR%d", i))
			copy(v, h[:])
		}
		m[i] = v
	}
	return m
}

// Defaults returns the document [Fixture.Document] starts from: module ID
// of the chain's leaf, digest SHA384, timestamp f.Now, [PCRs], and nil
// (null) public key, user data and nonce.
func (f *Fixture) Defaults() *attestation.Document {
	return &attestation.Document{
		ModuleID:  f.Chain.ModuleID,
		Digest:    "SHA384",
		Timestamp: f.Now,
		PCRs:      PCRs(),
	}
}

// Document signs the default document (see [Fixture.Defaults]) after
// applying each non-nil mod to it, with AWS's layout (indefinite-length
// map, no tag). It fails tb on error.
func (f *Fixture) Document(tb testing.TB, mods ...func(*attestation.Document)) []byte {
	tb.Helper()
	d := f.Defaults()
	for _, m := range mods {
		if m != nil {
			m(d)
		}
	}
	return f.Sign(tb, d)
}

// Doc is [Fixture.Document] failing the test given to [New]; on a Fixture
// built otherwise it panics on error.
func (f *Fixture) Doc(mods ...func(*attestation.Document)) []byte {
	d := f.Defaults()
	for _, m := range mods {
		if m != nil {
			m(d)
		}
	}
	b, err := f.Chain.Signer().Sign(d, rand.Reader)
	if err != nil {
		if f.tb == nil {
			panic("attestationtest: " + err.Error())
		}
		f.tb.Helper()
		f.tb.Fatalf("attestationtest: %v", err)
	}
	return b
}

// Sign signs doc as it is with the chain's leaf. It fails tb on error.
func (f *Fixture) Sign(tb testing.TB, doc *attestation.Document) []byte {
	tb.Helper()
	b, err := f.Chain.Signer().Sign(doc, rand.Reader)
	if err != nil {
		tb.Fatalf("attestationtest: %v", err)
	}
	return b
}

// NitroTPMPCRs returns the default NitroTPM PCR values: indexes 0-23, 48
// bytes each, as an EC2 instance's NitroTPM reports them; PCR0-PCR10 are
// SHA-384("enclavekit test NitroTPM PCR<n>"), the others zero. The map is a
// fresh copy.
func NitroTPMPCRs() map[int][]byte {
	m := make(map[int][]byte, 24)
	for i := range 24 {
		v := make([]byte, sha512.Size384)
		if i <= 10 {
			h := sha512.Sum384(fmt.Appendf(nil, "enclavekit test NitroTPM PCR%d", i))
			copy(v, h[:])
		}
		m[i] = v
	}
	return m
}

// NitroTPMDefaults returns the NitroTPM document
// [Fixture.NitroTPMDocument] starts from: a module ID in AWS's NitroTPM
// form ("i-<instance>-tpm0000000000000000"), digest SHA384, timestamp
// f.Now, [NitroTPMPCRs], and nil (null) public key, user data and nonce.
func (f *Fixture) NitroTPMDefaults() *attestation.NitroTPMDocument {
	id := f.Chain.ModuleID
	if i := strings.Index(id, "-enc"); i >= 0 {
		id = id[:i]
	}
	return &attestation.NitroTPMDocument{
		ModuleID:  id + "-tpm0000000000000000",
		Digest:    "SHA384",
		Timestamp: f.Now,
		PCRs:      NitroTPMPCRs(),
	}
}

// NitroTPMDocument signs the default NitroTPM document (see
// [Fixture.NitroTPMDefaults]) after applying each non-nil mod to it: the
// shape attestation.VerifyNitroTPM accepts and attestation.Verify refuses
// (nitrotpm_pcrs instead of pcrs). It fails tb on error.
func (f *Fixture) NitroTPMDocument(tb testing.TB, mods ...func(*attestation.NitroTPMDocument)) []byte {
	tb.Helper()
	d := f.NitroTPMDefaults()
	for _, m := range mods {
		if m != nil {
			m(d)
		}
	}
	b, err := f.Chain.Signer().SignNitroTPM(d, rand.Reader)
	if err != nil {
		tb.Fatalf("attestationtest: %v", err)
	}
	return b
}

// Roots returns the chain's root, for attestation.Options.Roots or
// attestation.VerifierConfig.Roots.
func (f *Fixture) Roots() []*x509.Certificate {
	return []*x509.Certificate{f.Chain.Root}
}

// RootPool returns the chain's root in a new pool.
func (f *Fixture) RootPool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(f.Chain.Root)
	return p
}

// Options returns verification options that trust the fixture's root at
// f.Now, with nothing else expected.
func (f *Fixture) Options() attestation.Options {
	return attestation.Options{Roots: f.Roots(), CurrentTime: f.Now}
}

// CopyPCRs returns a deep copy of m, handy for building expected values.
func CopyPCRs(m map[int][]byte) map[int][]byte {
	out := maps.Clone(m)
	for k, v := range out {
		out[k] = append([]byte(nil), v...)
	}
	return out
}
