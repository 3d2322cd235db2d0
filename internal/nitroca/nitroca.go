// SPDX-License-Identifier: Apache-2.0

package nitroca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"time"

	"github.com/enclavekit/enclavekit/attestation"
	"github.com/enclavekit/enclavekit/internal/atomicfile"
	"github.com/enclavekit/enclavekit/internal/boundedfile"
	"github.com/enclavekit/enclavekit/internal/flock"
)

// Lifetimes of the certificates of a chain, as AWS issues them.
const (
	RootValidity     = 30 * 365 * 24 * time.Hour
	RegionalValidity = 20 * 24 * time.Hour
	ZonalValidity    = 6 * 24 * time.Hour
	InstanceValidity = 24 * time.Hour
	LeafValidity     = 3 * time.Hour
)

// DefaultRegion is the region named in the certificates when
// [Options.Region] is empty.
const DefaultRegion = "local-1"

// orgName is the organisation of every certificate: never AWS's "Amazon".
const orgName = "enclavekit emulator"

// ErrRoot is returned (wrapped) when a root certificate or key cannot be
// loaded or does not fit together.
var ErrRoot = errors.New("nitroca: invalid root")

// Chain is a five-level certificate chain shaped like AWS's, with every
// private key.
type Chain struct {
	// Root is the self-signed root, cabundle[0] in documents.
	Root *x509.Certificate
	// Regional, Zonal and Instance are the intermediate CAs, in issuing
	// order.
	Regional, Zonal, Instance *x509.Certificate
	// Leaf signs the documents.
	Leaf *x509.Certificate

	// RootKey etc. are the private keys of the certificates above.
	RootKey, RegionalKey, ZonalKey, InstanceKey, LeafKey *ecdsa.PrivateKey

	// ModuleID is the enclave module ID named in the leaf's subject, in
	// AWS's form "i-<17 hex>-enc<16 hex>"; use it as Document.ModuleID.
	ModuleID string

	region     string
	instanceID string
}

// Options changes how [Root.IssueChain] issues a chain. The zero value
// gives a chain shaped exactly like AWS's; the other settings make broken
// chains for negative tests.
type Options struct {
	// Region is named in the CA and leaf subjects; "" is [DefaultRegion].
	Region string
	// LeafCurve is the curve of the leaf key; nil is P-384. Documents
	// signed by a P-256 or P-521 leaf must be rejected by a verifier.
	LeafCurve elliptic.Curve
	// LeafNotBefore, when set, starts the leaf's 3-hour validity there
	// instead of at the issuing time, e.g. to make a leaf that is valid
	// only before or after the documents it signs.
	LeafNotBefore time.Time
	// InstanceNotCA issues the instance CA without the basic constraints
	// extension, so it is not a CA and the chain must not verify.
	InstanceNotCA bool
}

// Root is a self-signed root CA with its private key.
type Root struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
}

// NewRoot makes a P-384 root CA valid for 30 years from now.
func NewRoot(rand io.Reader, now time.Time) (*Root, error) {
	key, err := ecdsa.GenerateKey(elliptic.P384(), rand)
	if err != nil {
		return nil, fmt.Errorf("nitroca: %w", err)
	}
	now = now.UTC().Truncate(time.Second)
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{Country: []string{"US"}, Organization: []string{orgName}, OrganizationalUnit: []string{"enclavekit"}, CommonName: "emulator.nitro-enclaves"},
		NotBefore:             now,
		NotAfter:              now.Add(RootValidity),
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            -1,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	cert, err := issue(rand, tmpl, nil, nil, key)
	if err != nil {
		return nil, err
	}
	return &Root{Cert: cert, Key: key}, nil
}

// ParseRoot reads a root from a PEM certificate and a PEM PKCS#8 ("PRIVATE
// KEY") ECDSA key, checking that they belong together and that the
// certificate is a CA.
func ParseRoot(certPEM, keyPEM []byte) (*Root, error) {
	cb, _ := pem.Decode(certPEM)
	if cb == nil || cb.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%w: no PEM CERTIFICATE block", ErrRoot)
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrRoot, err)
	}
	kb, _ := pem.Decode(keyPEM)
	if kb == nil || kb.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("%w: no PEM PRIVATE KEY block", ErrRoot)
	}
	k, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrRoot, err)
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%w: key is %T, want ECDSA", ErrRoot, k)
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		return nil, fmt.Errorf("%w: key does not match the certificate", ErrRoot)
	}
	if !cert.BasicConstraintsValid || !cert.IsCA {
		return nil, fmt.Errorf("%w: certificate is not a CA", ErrRoot)
	}
	return &Root{Cert: cert, Key: key}, nil
}

// maxPEMFile bounds the certificate and key files [LoadRoot] reads: each
// holds one PEM block of a few KiB.
const maxPEMFile = boundedfile.MiB

// LoadRoot reads a root saved by [Root.Save].
func LoadRoot(certFile, keyFile string) (*Root, error) {
	c, err := boundedfile.Read(certFile, maxPEMFile)
	if err != nil {
		return nil, fmt.Errorf("nitroca: %w", err)
	}
	k, err := boundedfile.Read(keyFile, maxPEMFile)
	if err != nil {
		return nil, fmt.Errorf("nitroca: %w", err)
	}
	return ParseRoot(c, k)
}

// LoadOrCreateRoot loads the root saved in certFile and keyFile, or, when
// there is none, makes a new one valid from now and saves it there. It
// holds an exclusive lock on keyFile+".lock" (created beside it)
// throughout, so processes starting together on a fresh directory agree
// on one root.
//
// A certificate without its key is what a crash inside [Root.Save] leaves
// (it writes the key last): no root can be loaded from it, so a new root
// replaces it. A key without its certificate is not: Save never leaves
// one (older versions, which wrote the key first, could), so it is an
// error matching [ErrRoot] that names the file to remove, and the key is
// left as it is. So are two files that do not make a root (unreadable,
// corrupt, or a key that does not match the certificate).
func LoadOrCreateRoot(certFile, keyFile string, rand io.Reader, now time.Time) (*Root, error) {
	unlock, err := flock.Lock(keyFile + ".lock")
	if err != nil {
		return nil, fmt.Errorf("nitroca: locking the root: %w", err)
	}
	defer unlock()
	_, errC := os.Stat(certFile)
	_, errK := os.Stat(keyFile)
	noCert, noKey := errors.Is(errC, os.ErrNotExist), errors.Is(errK, os.ErrNotExist)
	switch {
	case errC != nil && !noCert || errK != nil && !noKey || !noCert && !noKey:
		return LoadRoot(certFile, keyFile)
	case noCert && !noKey:
		return nil, fmt.Errorf("%w: %s has no certificate %s beside it (removed, or left by an older version's interrupted save): remove %s to make a new root",
			ErrRoot, keyFile, certFile, keyFile)
	}
	// No key: nothing, or a certificate left by a crash inside Save.
	r, err := NewRoot(rand, now)
	if err != nil {
		return nil, err
	}
	if err := r.Save(certFile, keyFile); err != nil {
		return nil, err
	}
	return r, nil
}

// CertPEM returns the root certificate as PEM: what a verifier is given
// with --root.
func (r *Root) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: r.Cert.Raw})
}

// KeyPEM returns the root private key as PEM PKCS#8.
func (r *Root) KeyPEM() ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(r.Key)
	if err != nil {
		return nil, fmt.Errorf("nitroca: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// Save writes the certificate (mode 0644), then the key (mode 0600), as
// PEM, each through a temporary file fsynced and renamed into place, then
// the directory fsynced (internal/atomicfile). The key comes last, so a
// key on disk always has its certificate beside it: a crash between the
// two leaves a certificate alone, which [LoadOrCreateRoot] replaces.
func (r *Root) Save(certFile, keyFile string) error {
	k, err := r.KeyPEM()
	if err != nil {
		return err
	}
	if err := writeFileAtomic(certFile, r.CertPEM(), 0o644); err != nil {
		return err
	}
	return writeFileAtomic(keyFile, k, 0o600)
}

func writeFileAtomic(name string, data []byte, perm os.FileMode) error {
	if err := atomicfile.Write(name, data, perm); err != nil {
		return fmt.Errorf("nitroca: %w", err)
	}
	return nil
}

// NewChain makes a new root and a chain under it, every certificate valid
// from now (see the package documentation for the lifetimes).
func NewChain(rand io.Reader, now time.Time) (*Chain, error) {
	r, err := NewRoot(rand, now)
	if err != nil {
		return nil, err
	}
	return r.IssueChain(rand, now, nil)
}

// IssueChain issues regional, zonal and instance CAs and a leaf under r,
// each valid from now; opts may be nil.
func (r *Root) IssueChain(rand io.Reader, now time.Time, opts *Options) (*Chain, error) {
	if opts == nil {
		opts = &Options{}
	}
	now = now.UTC().Truncate(time.Second)
	region := opts.Region
	if region == "" {
		region = DefaultRegion
	}
	c := &Chain{Root: r.Cert, RootKey: r.Key, region: region}
	regID, err := randHex(rand, 8)
	if err != nil {
		return nil, err
	}
	zoneID, err := randHex(rand, 8)
	if err != nil {
		return nil, err
	}
	inst, err := randHex(rand, 9)
	if err != nil {
		return nil, err
	}
	c.instanceID = "i-" + inst[:17]

	caUsage := x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	c.Regional, c.RegionalKey, err = issueCA(rand, r.Cert, r.Key, pkix.Name{
		Country: []string{"US"}, Organization: []string{orgName}, OrganizationalUnit: []string{"enclavekit"},
		CommonName: regID + "." + region + ".emulator.nitro-enclaves",
	}, now, RegionalValidity, 2, caUsage, false)
	if err != nil {
		return nil, err
	}
	c.Zonal, c.ZonalKey, err = issueCA(rand, c.Regional, c.RegionalKey, pkix.Name{
		Country: []string{"US"}, Province: []string{"WA"}, Locality: []string{"Seattle"},
		Organization: []string{orgName}, OrganizationalUnit: []string{"enclavekit"},
		CommonName: zoneID + ".zonal." + region + ".emulator.nitro-enclaves",
	}, now, ZonalValidity, 1, caUsage, false)
	if err != nil {
		return nil, err
	}
	c.Instance, c.InstanceKey, err = issueCA(rand, c.Zonal, c.ZonalKey, pkix.Name{
		Country: []string{"US"}, Province: []string{"Washington"}, Locality: []string{"Seattle"},
		Organization: []string{orgName}, OrganizationalUnit: []string{"enclavekit"},
		CommonName: c.instanceID + "." + region + ".emulator.nitro-enclaves",
	}, now, InstanceValidity, 0, x509.KeyUsageCertSign, opts.InstanceNotCA)
	if err != nil {
		return nil, err
	}
	start := now
	if !opts.LeafNotBefore.IsZero() {
		start = opts.LeafNotBefore.UTC().Truncate(time.Second)
	}
	if err := c.issueLeaf(rand, start, opts.LeafCurve); err != nil {
		return nil, err
	}
	return c, nil
}

// Signer returns a signer for the leaf, with cabundle [Root, Regional,
// Zonal, Instance] and AWS's defaults (indefinite-length map, no tag).
func (c *Chain) Signer() *attestation.Signer {
	return &attestation.Signer{
		Key:         c.LeafKey,
		Certificate: c.Leaf,
		CABundle:    []*x509.Certificate{c.Root, c.Regional, c.Zonal, c.Instance},
	}
}

// Roots returns the chain's root as a slice, for attestation.Options.Roots.
func (c *Chain) Roots() []*x509.Certificate {
	return []*x509.Certificate{c.Root}
}

// RotateLeaf replaces the leaf, its key and the module ID with a new P-384
// leaf valid for 3 hours from now, under the same instance CA, as the NSM
// does. It fails when now is outside the instance CA's validity: issue a
// new chain then.
func (c *Chain) RotateLeaf(rand io.Reader, now time.Time) error {
	now = now.UTC().Truncate(time.Second)
	if now.Before(c.Instance.NotBefore) || now.After(c.Instance.NotAfter) {
		return fmt.Errorf("nitroca: %v is outside the instance CA's validity [%v, %v]; issue a new chain",
			now, c.Instance.NotBefore, c.Instance.NotAfter)
	}
	return c.issueLeaf(rand, now, nil)
}

func (c *Chain) issueLeaf(rand io.Reader, start time.Time, curve elliptic.Curve) error {
	if curve == nil {
		curve = elliptic.P384()
	}
	enc, err := randHex(rand, 8)
	if err != nil {
		return err
	}
	key, err := ecdsa.GenerateKey(curve, rand)
	if err != nil {
		return fmt.Errorf("nitroca: %w", err)
	}
	moduleID := c.instanceID + "-enc" + enc
	tmpl := &x509.Certificate{
		Subject: pkix.Name{
			Country: []string{"US"}, Province: []string{"Washington"}, Locality: []string{"Seattle"},
			Organization: []string{orgName}, OrganizationalUnit: []string{"enclavekit"},
			CommonName: moduleID + "." + c.region + ".emulator",
		},
		NotBefore:             start,
		NotAfter:              start.Add(LeafValidity),
		BasicConstraintsValid: true,
		IsCA:                  false,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
	}
	cert, err := issue(rand, tmpl, c.Instance, c.InstanceKey, key)
	if err != nil {
		return err
	}
	c.Leaf, c.LeafKey, c.ModuleID = cert, key, moduleID
	return nil
}

func issueCA(rand io.Reader, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, name pkix.Name,
	now time.Time, validity time.Duration, pathLen int, usage x509.KeyUsage, notCA bool) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P384(), rand)
	if err != nil {
		return nil, nil, fmt.Errorf("nitroca: %w", err)
	}
	tmpl := &x509.Certificate{
		Subject:               name,
		NotBefore:             now,
		NotAfter:              now.Add(validity),
		BasicConstraintsValid: !notCA,
		IsCA:                  !notCA,
		MaxPathLen:            pathLen,
		MaxPathLenZero:        pathLen == 0 && !notCA,
		KeyUsage:              usage,
	}
	if notCA {
		tmpl.MaxPathLen = 0
	}
	cert, err := issue(rand, tmpl, parent, parentKey, key)
	if err != nil {
		return nil, nil, err
	}
	return cert, key, nil
}

// issue signs tmpl for key with parent (self-signed when parent is nil)
// using ECDSA with SHA-384, and parses the result back.
func issue(rand io.Reader, tmpl, parent *x509.Certificate, parentKey, key *ecdsa.PrivateKey) (*x509.Certificate, error) {
	serial := make([]byte, 16)
	if _, err := io.ReadFull(rand, serial); err != nil {
		return nil, fmt.Errorf("nitroca: %w", err)
	}
	serial[0] &= 0x7f
	serial[0] |= 0x01 // positive and never zero
	tmpl.SerialNumber = new(big.Int).SetBytes(serial)
	tmpl.SignatureAlgorithm = x509.ECDSAWithSHA384
	if parent == nil {
		parent, parentKey = tmpl, key // CreateCertificate adds a subject key ID to CAs
	}
	der, err := x509.CreateCertificate(rand, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		return nil, fmt.Errorf("nitroca: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("nitroca: %w", err)
	}
	return cert, nil
}

func randHex(rand io.Reader, n int) (string, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(rand, b); err != nil {
		return "", fmt.Errorf("nitroca: %w", err)
	}
	return hex.EncodeToString(b), nil
}
