// SPDX-License-Identifier: Apache-2.0

package attestation

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/sha512"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"slices"

	"github.com/enclavekit/enclavekit/internal/es384"
)

// caChain is a CA bundle that crypto/x509 verified, with a leaf, to a
// trusted root, kept by a [Verifier] so that a new leaf under the same CAs
// needs only its own signature checked (the semi-cold path).
//
// Why that is the same verdict as crypto/x509's. A [caChain] exists only
// when the bundle's subjects are pairwise distinct, so that crypto/x509's
// path building has exactly one candidate issuer for each certificate: the
// path from a new leaf whose issuer name is the cached issuer's subject is
// the cached path. Along it, crypto/x509 (Go 1.26, Certificate.Verify)
// checks:
//
//   - for each CA: its signature by the CA above, its validity, that it is
//     a CA (basic constraints) allowed to sign certificates (key usage),
//     its path length against the number of certificates below it, the
//     absence of unknown critical extensions: none depends on the leaf but
//     the count below, which is the same for every leaf directly under the
//     issuer, and validity, which step 3 checks for every certificate at
//     every verification;
//   - name constraints of the CAs against the names of every certificate
//     below, policies and policy constraints (RFC 5280 §6.1, as updated
//     by RFC 9618), extended key usage: the first two depend on the leaf,
//     so a caChain is made only when no CA on the path carries any
//     extension beyond those listed in fastExtensions, and none of them
//     constrains names or policies; extended key usage is not checked
//     (Options ask for any);
//   - for the leaf: that no CA on the path has its subject and key (a
//     loop), its validity, the absence of unknown critical extensions, and
//     its signature by the issuer with the issuer's key and the algorithm
//     it names.
//
// [caChain.checkLeaf] checks the leaf's part, with the leaf limited to
// the same extensions, and leaves the decision to crypto/x509 whenever
// anything falls outside what it evaluates. The key usage checks of
// step 4 (keyCertSign on the CAs, digitalSignature on the leaf) are ours,
// not crypto/x509's: the CAs' passed when the caChain was made, and the
// leaf's runs on every path.
type caChain struct {
	bundle    []*x509.Certificate // as parsed from the document: handed out in Documents, read-only by contract
	private   []*x509.Certificate // the same DER parsed again, never handed out: what every check reads
	subjects  [][]byte            // raw subjects of every bundle certificate (private)
	issuer    *x509.Certificate   // the CA that issued the leaf on the verified path (private)
	issuerKey *es384.PublicKey
}

// fastExtensions are the extensions the semi-cold path understands on a
// CA above the leaf and on the leaf: none of them can make a leaf fail
// under CAs that passed, except key usage, which is checked on every path.
var fastExtensions = []asn1.ObjectIdentifier{
	{2, 5, 29, 14},              // subjectKeyIdentifier
	{2, 5, 29, 15},              // keyUsage
	{2, 5, 29, 19},              // basicConstraints
	{2, 5, 29, 35},              // authorityKeyIdentifier
	{2, 5, 29, 31},              // cRLDistributionPoints
	{1, 3, 6, 1, 5, 5, 7, 1, 1}, // authorityInfoAccess
}

// onlyFastExtensions reports whether every extension of c is one of
// fastExtensions.
func onlyFastExtensions(c *x509.Certificate) bool {
	if len(c.UnhandledCriticalExtensions) > 0 {
		return false
	}
next:
	for _, e := range c.Extensions {
		for _, id := range fastExtensions {
			if e.Id.Equal(id) {
				continue next
			}
		}
		return false
	}
	return true
}

// newCAChain returns the caChain for a bundle whose chain crypto/x509
// verified along path (the issuing CA first, the root last), or nil when
// the semi-cold path cannot stand in for crypto/x509 under this bundle.
//
// Every check it makes later reads private copies of the certificates,
// parsed again from copies of their DER: bundle's certificates are handed
// out in Documents, and a caller that modified one (against the contract)
// must not change the verdict on another caller's document.
func newCAChain(bundle, path []*x509.Certificate) *caChain {
	if len(path) == 0 {
		return nil
	}
	private := make([]*x509.Certificate, len(bundle))
	for i, b := range bundle {
		p, err := x509.ParseCertificate(bytes.Clone(b.Raw))
		if err != nil {
			return nil
		}
		private[i] = p
	}
	subjects := make([][]byte, len(private))
	for i, b := range private {
		for _, s := range subjects[:i] {
			if bytes.Equal(s, b.RawSubject) {
				return nil // two candidates for one issuer name
			}
		}
		subjects[i] = b.RawSubject
	}
	for _, ca := range path {
		if !onlyFastExtensions(ca) {
			return nil
		}
	}
	// The issuer is kept: its private copy (the root from the trusted pool
	// is the trust's own).
	issuer := path[0]
	if i := slices.Index(bundle, issuer); i >= 0 {
		issuer = private[i]
	}
	pub, ok := issuer.PublicKey.(*ecdsa.PublicKey)
	if !ok {
		return nil
	}
	key, err := es384.NewPublicKey(pub)
	if err != nil {
		return nil // not P-384
	}
	return &caChain{bundle: bundle, private: private, subjects: subjects, issuer: issuer, issuerKey: key}
}

// checkLeaf decides step 4 for leaf, valid at the verification time (step
// 3 ran), under the cached CAs, exactly as crypto/x509 would decide it with
// them, plus the key usage step 4 requires. decided false means "not
// decided here": the caller runs the full verification. When it decides,
// err is nil (accepted) or a [ChainError] (the leaf's signature does not
// verify with the issuer's key: with the issuer the only candidate,
// crypto/x509 rejects it too), so that a stream of forged leaves under a
// known CA bundle costs one fast verification each, not a chain
// verification.
func (ca *caChain) checkLeaf(leaf *x509.Certificate) (decided bool, err error) {
	if !onlyFastExtensions(leaf) ||
		leaf.SignatureAlgorithm != x509.ECDSAWithSHA384 ||
		!bytes.Equal(leaf.RawIssuer, ca.issuer.RawSubject) ||
		checkLeafKeyUsage(leaf) != nil {
		return false, nil
	}
	for _, s := range ca.subjects {
		if bytes.Equal(leaf.RawSubject, s) {
			return false, nil // crypto/x509 may see a loop, or another path
		}
	}
	digest := sha512.Sum384(leaf.RawTBSCertificate)
	if !es384.VerifyASN1(ca.issuerKey, digest[:], leaf.Signature) {
		return true, &ChainError{Reason: fmt.Sprintf("the leaf certificate's signature does not verify with the key of its issuer %q", ca.issuer.Subject.String())}
	}
	return true, nil
}
