// SPDX-License-Identifier: Apache-2.0

package attestation

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha512"
	"crypto/subtle"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/enclavekit/enclavekit/internal/es384"
)

// DefaultMaxFutureSkew is the future clock skew allowed when
// Options.MaxFutureSkew is zero.
const DefaultMaxFutureSkew = 5 * time.Minute

// Options is the policy [Verify] and [Verifier.Verify] apply. The zero
// value is the safe default: the embedded AWS root, the current time, no
// age limit beyond certificate validity, a small future skew, no PCR,
// nonce, user data or public key expectations, debug mode rejected.
type Options struct {
	// Roots are the trusted roots. Nil trusts only the embedded AWS Nitro
	// root ([AWSNitroRootG1]); a non-nil empty slice is an error. Give other
	// roots (an emulator's) only when you trust them: every document they
	// sign verifies. Must be nil with a [Verifier], which has its own.
	Roots []*x509.Certificate
	// CurrentTime is the verification time; zero reads the clock once, at
	// the entry point. It is the time certificates are checked at (unless
	// AtDocumentTime) and the time freshness is measured against (always).
	CurrentTime time.Time
	// AtDocumentTime checks certificate validity at the document's own
	// timestamp instead of CurrentTime: the way to verify a stored
	// document, whose leaf certificate expired three hours after it was
	// made. The timestamp is chosen by the signer, so combine this with
	// MaxAge to bound how old an accepted document may be.
	AtDocumentTime bool
	// MaxAge rejects documents whose timestamp is more than MaxAge before
	// CurrentTime ([ErrTooOld]). Zero sets no limit besides certificate
	// validity (a leaf lives three hours); negative is an error. A service
	// that relies on fresh documents should set it (e.g. 5 minutes) and
	// use a nonce.
	MaxAge time.Duration
	// MaxFutureSkew is how far the document's timestamp may be after
	// CurrentTime ([ErrFromFuture]): zero means [DefaultMaxFutureSkew];
	// negative is an error.
	MaxFutureSkew time.Duration
	// PCRs holds expected PCR values by index, any subset; every other PCR
	// is accepted as it is. Pin at least PCR0 (the image) for a production
	// enclave; PCR4 depends on the parent instance and PCR8 exists only for
	// signed images. A nil value expects the PCR to be absent; any other
	// must be [PCRSize] (48) bytes, as every document's PCRs are: one of
	// another length, empty included, is refused as invalid options.
	PCRs map[int][]byte
	// Nonce, UserData and PublicKey, when non-nil, must equal the
	// document's field exactly (constant-time comparison); a non-nil empty
	// slice expects a present, empty field. Nil skips the check.
	Nonce, UserData, PublicKey []byte
	// AllowDebugUnsafe accepts documents of debug-mode enclaves (PCR0,
	// PCR1 and PCR2 all zero), whose memory the parent instance can read.
	// Never set it in production.
	AllowDebugUnsafe bool
}

// Verify parses and verifies an attestation document and returns it only
// when every check passed; otherwise it returns nil and an error whose
// [ErrorCode] names the first failed check. In order, it checks:
//
//  1. Decoding: the document is decoded strictly as [Parse] does
//     ([ErrMalformed]); a NitroTPM document is rejected ([ErrNotEnclave]);
//     the protected header is exactly ES384 ([ErrUnsupportedAlgorithm]).
//  2. Algorithm: the leaf certificate's key is ECDSA P-384
//     ([ErrUnsupportedAlgorithm]).
//  3. Certificate validity: the leaf and every cabundle certificate are
//     valid at the verification time, CurrentTime or the document's
//     timestamp with AtDocumentTime ([ErrCertificateExpired],
//     [ErrCertificateNotYetValid]).
//  4. Chain: cabundle[0] is byte for byte one of the trusted roots, and the
//     leaf chains to it through cabundle[1:] under RFC 5280 rules as
//     crypto/x509 applies them (signatures, CA basic constraints, path
//     length, name constraints, policy constraints, unknown critical
//     extensions), plus key usage certSign on every CA and
//     digitalSignature on the leaf when the certificates carry a key usage
//     extension ([ErrUntrustedChain]).
//  5. Signature: the COSE_Sign1 ES384 signature over the Sig_structure
//     ["Signature1", protected, empty external_aad, payload] verifies with
//     the leaf key ([ErrBadSignature]), by crypto/ecdsa's rules (0 < r, s
//     < N); high-S signatures are accepted, as AWS makes them.
//  6. Freshness: the timestamp is at most MaxFutureSkew after CurrentTime
//     ([ErrFromFuture]) and, with MaxAge, at most MaxAge before it
//     ([ErrTooOld]).
//  7. PCRs: every PCR in Options.PCRs has the expected value; all
//     mismatches are reported together ([PCRMismatchError]).
//  8. Nonce, user data and public key equal the expected values when given
//     ([ErrNonceMismatch], [ErrUserDataMismatch], [ErrPublicKeyMismatch]).
//  9. Debug mode: PCR0, PCR1 and PCR2 are not all zero, unless
//     AllowDebugUnsafe ([ErrDebugMode]).
//
// Contradictory or out-of-range options (an expected PCR value that is
// not [PCRSize] bytes included) are rejected before anything else
// ([ErrInvalidOptions]).
func Verify(data []byte, opts Options) (*Document, error) {
	return verifyKind(nil, data, &opts, kindEnclave)
}

// verifyKind is the body of [Verify], [VerifyNitroTPM] and the [Verifier]
// methods: it runs [verify] for documents of kind, with v's roots and caches
// (opts.Roots must then be nil) or, for v nil, with opts.Roots or the
// embedded AWS root, at opts.CurrentTime or now. The fields of a verified
// document of either kind are returned as a Document; the NitroTPM entry
// points convert it to a NitroTPMDocument, which has the same fields. kind
// is checked by verify's step 1, so a document of the other kind never
// gets this far.
func verifyKind(v *Verifier, data []byte, opts *Options, kind docKind) (*Document, error) {
	now := opts.CurrentTime
	if now.IsZero() {
		now = time.Now()
	}
	var t *trust
	switch {
	case v != nil && opts.Roots != nil:
		return nil, &OptionsError{Reason: "Options.Roots must be nil with a Verifier (set VerifierConfig.Roots)"}
	case v != nil:
		t = v.trust
	case opts.Roots != nil:
		var err error
		if t, err = newTrust(opts.Roots); err != nil {
			return nil, err
		}
	default:
		t = defaultTrust()
	}
	rd, c, err := verify(t, v, data, opts, now, kind)
	if err != nil {
		return nil, err
	}
	return rd.document(data, c.leaf, slices.Clone(c.bundle)), nil // own slice: a cached chain is shared
}

// trust is a set of pinned roots.
type trust struct {
	roots []trustedRoot
}

// trustedRoot is one pinned root: its DER, for the byte-wise cabundle[0]
// check, and a pool holding only it, so that crypto/x509 builds paths to
// exactly the root the document names and to no other.
type trustedRoot struct {
	der  []byte
	pool *x509.CertPool
}

func newTrust(roots []*x509.Certificate) (*trust, error) {
	if roots == nil {
		root, err := x509.ParseCertificate(awsNitroRootG1DER())
		if err != nil {
			return nil, err
		}
		roots = []*x509.Certificate{root}
	}
	if len(roots) == 0 {
		return nil, &OptionsError{Reason: "Roots is empty; use nil for the embedded AWS root"}
	}
	t := &trust{}
	for i, r := range roots {
		if r == nil || len(r.Raw) == 0 {
			return nil, &OptionsError{Reason: "Roots[" + strconv.Itoa(i) + "] is not a parsed certificate"}
		}
		// A private copy, so that a caller changing its certificate later
		// cannot change what this trust accepts.
		c, err := x509.ParseCertificate(bytes.Clone(r.Raw))
		if err != nil {
			return nil, &OptionsError{Reason: "Roots[" + strconv.Itoa(i) + "]: " + err.Error()}
		}
		pool := x509.NewCertPool()
		pool.AddCert(c)
		t.roots = append(t.roots, trustedRoot{der: c.Raw, pool: pool})
	}
	return t, nil
}

// rootPool returns the pool of the trusted root that is byte for byte der,
// or nil.
func (t *trust) rootPool(der []byte) *x509.CertPool {
	for _, r := range t.roots {
		if bytes.Equal(r.der, der) {
			return r.pool
		}
	}
	return nil
}

// chain is what verification needs from a document's certificates: the leaf
// key and the validity windows are private copies, so that a caller
// modifying a returned Document's certificates cannot change a cached
// chain's verdicts (only, at worst, the subject named in a message).
type chain struct {
	leaf     *x509.Certificate   // handed out in Documents (read-only by contract)
	bundle   []*x509.Certificate // idem
	checked  []*x509.Certificate // the bundle step 4 builds the path from: bundle, or a caChain's private copies
	key      *es384.PublicKey    // validated private copy of the leaf's key
	validity []validity          // leaf first, then cabundle in order
}

type validity struct {
	notBefore, notAfter time.Time
	cert                *x509.Certificate // for the subject in messages only
	index               int               // -1 for the leaf, else the cabundle index
}

// newChain checks the leaf key (step 2) and records what later steps need:
// bundle is handed out in Documents; checked (the same certificates,
// possibly other copies of them: see caChain) gives the validity windows
// and the path step 4 verifies.
func newChain(leaf *x509.Certificate, bundle, checked []*x509.Certificate) (*chain, error) {
	pub, ok := leaf.PublicKey.(*ecdsa.PublicKey)
	if !ok {
		return nil, &AlgorithmError{Reason: fmt.Sprintf("leaf key is %s", leaf.PublicKeyAlgorithm)}
	}
	if pub.Curve != elliptic.P384() {
		return nil, &AlgorithmError{Reason: fmt.Sprintf("leaf key is ECDSA %s", pub.Curve.Params().Name)}
	}
	key, err := es384.NewPublicKey(pub)
	if err != nil {
		return nil, &AlgorithmError{Reason: "leaf key: " + err.Error()}
	}
	c := &chain{
		leaf:     leaf,
		bundle:   bundle,
		checked:  checked,
		key:      key,
		validity: make([]validity, 0, 1+len(checked)),
	}
	c.validity = append(c.validity, validity{leaf.NotBefore, leaf.NotAfter, leaf, -1})
	for i, b := range checked {
		c.validity = append(c.validity, validity{b.NotBefore, b.NotAfter, b, i})
	}
	return c, nil
}

// checkValidity is step 3.
func (c *chain) checkValidity(at time.Time, atDocumentTime bool) error {
	for _, v := range c.validity {
		if at.Before(v.notBefore) || at.After(v.notAfter) {
			pos := "certificate"
			if v.index >= 0 {
				pos = "cabundle[" + strconv.Itoa(v.index) + "]"
			}
			return &ValidityError{Subject: v.cert.Subject.String(), Position: pos, NotBefore: v.notBefore,
				NotAfter: v.notAfter, At: at, AtDocumentTime: atDocumentTime}
		}
	}
	return nil
}

// verifyChain is step 4 in full, with crypto/x509. The caller has checked
// the validity of the leaf and of every cabundle certificate at `at`: then
// the verdict does not depend on `at` (the only certificates crypto/x509
// can use are those, the pinned root being byte for byte cabundle[0]),
// which is what lets a [Verifier] share one verification among concurrent
// documents and cache its result. It returns the verified path above the
// leaf: the issuing CA first, the root last.
func (t *trust) verifyChain(c *chain, rd *rawDocument, at time.Time) ([]*x509.Certificate, error) {
	// cabundle[0] must be a pinned root, compared byte-wise, and is left out
	// of the intermediates: were it in both pools, crypto/x509 would check
	// the regional CA's signature twice (hf/nitrite's sixth verification).
	roots := t.rootPool(rd.cabundle[0])
	if roots == nil {
		subject := c.checked[0].Subject.String()
		return nil, &ChainError{UntrustedRoot: subject,
			Reason: fmt.Sprintf("cabundle[0] %q is not a trusted root; add it to Options.Roots only if you trust it", subject)}
	}
	// crypto/x509 does the PKIX work (path building, basic constraints, path
	// length, name constraints, policies, unknown critical extensions).
	// Measured, it adds about 2% to the four signature checks it cannot
	// avoid (docs/PERFORMANCE.md), so a hand-written link-by-link walk with
	// CheckSignatureFrom would save little and risk missing a rule.
	inter := x509.NewCertPool()
	for _, b := range c.checked[1:] {
		inter.AddCert(b)
	}
	chains, err := c.leaf.Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: inter,
		CurrentTime:   at,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		return nil, &ChainError{Reason: x509Reason(err)}
	}
	// RFC 5280 §4.2.1.3: keyCertSign on CA certificates, and the leaf signs
	// documents (digitalSignature). crypto/x509 checks neither for a key
	// usage extension with no bits set, which it reads as absent
	// (KeyUsage 0), nor digitalSignature on the leaf.
	if err := checkLeafKeyUsage(c.leaf); err != nil {
		return nil, err
	}
	var kuErr error
	for _, ch := range chains {
		kuErr = nil
		for _, ca := range ch[1:] {
			if hasKeyUsage(ca) && ca.KeyUsage&x509.KeyUsageCertSign == 0 {
				kuErr = &ChainError{Reason: fmt.Sprintf("CA certificate %q's key usage lacks keyCertSign", ca.Subject.String())}
				break
			}
		}
		if kuErr == nil {
			return ch[1:], nil
		}
	}
	return nil, kuErr
}

// checkLeafKeyUsage requires digitalSignature in the leaf's key usage
// extension, when it has one.
func checkLeafKeyUsage(leaf *x509.Certificate) error {
	if hasKeyUsage(leaf) && leaf.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		return &ChainError{Reason: "the leaf certificate's key usage lacks digitalSignature"}
	}
	return nil
}

// oidKeyUsage is the key usage extension's identifier (RFC 5280 §4.2.1.3).
var oidKeyUsage = asn1.ObjectIdentifier{2, 5, 29, 15}

// hasKeyUsage reports whether c carries a key usage extension, with or
// without bits set: crypto/x509 leaves KeyUsage 0 for one with none, as
// for no extension, and such a certificate may be used for nothing.
func hasKeyUsage(c *x509.Certificate) bool {
	if c.KeyUsage != 0 {
		return true
	}
	for _, e := range c.Extensions {
		if e.Id.Equal(oidKeyUsage) {
			return true
		}
	}
	return false
}

// x509Reason describes a crypto/x509 verification error without making
// its types part of this package's API.
func x509Reason(err error) string {
	var ua x509.UnknownAuthorityError
	if errors.As(err, &ua) {
		return "the leaf does not chain to a trusted root through cabundle (" + err.Error() + ")"
	}
	return err.Error()
}

// sigStructurePrefix is the CBOR encoding of the Sig_structure up to the
// payload: array(4), "Signature1", the protected header bstr A1 01 38 22,
// and the empty external_aad bstr. Parse admits no other protected header,
// so the prefix is constant.
var sigStructurePrefix = []byte{
	0x84,
	0x6a, 'S', 'i', 'g', 'n', 'a', 't', 'u', 'r', 'e', '1',
	0x44, 0xa1, 0x01, 0x38, 0x22,
	0x40,
}

// verifySignature is step 5, with [es384.Verify]: the fast path on amd64
// and arm64, crypto/ecdsa elsewhere, accepting exactly what crypto/ecdsa
// accepts (high-S included).
func verifySignature(pub *es384.PublicKey, rd *rawDocument) error {
	h := sha512.New384()
	h.Write(sigStructurePrefix)
	var head [9]byte
	h.Write(bstrHead(head[:0], len(rd.payload)))
	h.Write(rd.payload)
	var digest [48]byte
	if !es384.Verify(pub, h.Sum(digest[:0]), rd.signature) {
		return &SignatureError{}
	}
	return nil
}

// bstrHead appends the CBOR head of a byte string of length n.
func bstrHead(b []byte, n int) []byte {
	switch {
	case n < 24:
		return append(b, 0x40|byte(n))
	case n <= 0xff:
		return append(b, 0x58, byte(n))
	case n <= 0xffff:
		return append(b, 0x59, byte(n>>8), byte(n))
	default:
		return append(b, 0x5a, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
}

// checkOptions rejects contradictory or out-of-range options.
func checkOptions(opts *Options) error {
	if opts.MaxAge < 0 {
		return &OptionsError{Reason: "MaxAge is negative"}
	}
	if opts.MaxFutureSkew < 0 {
		return &OptionsError{Reason: "MaxFutureSkew is negative"}
	}
	bad := -1
	for i, v := range opts.PCRs {
		if i < 0 || i >= MaxPCRs {
			return &OptionsError{Reason: fmt.Sprintf("PCRs has index %d, outside 0-%d", i, MaxPCRs-1)}
		}
		if v != nil && len(v) != PCRSize && (bad < 0 || i < bad) {
			bad = i
		}
	}
	if bad >= 0 {
		// Every document's PCR is PCRSize bytes: this value would be a
		// mismatch on every document, the caller's mistake told as the
		// enclave's.
		return &OptionsError{Reason: fmt.Sprintf("PCRs[%d] is %d bytes, want %d (a SHA-384 digest; nil expects the PCR absent)", bad, len(opts.PCRs[bad]), PCRSize)}
	}
	return nil
}

// verify runs every check of [Verify] (kind enclave) or [VerifyNitroTPM]
// (kind nitroTPM): with v nil the package-level function (trust t, no
// cache), else v's method (t is v.trust). It returns the decoded document
// and its chain only when every check passed.
func verify(t *trust, v *Verifier, data []byte, opts *Options, now time.Time, kind docKind) (*rawDocument, *chain, error) {
	if err := checkOptions(opts); err != nil {
		return nil, nil, err
	}
	// 1. Decoding.
	rd, err := parseRaw(data, kind)
	if err != nil {
		return nil, nil, err
	}
	ts := time.UnixMilli(int64(rd.timestamp)).UTC()
	certTime := now
	if opts.AtDocumentTime {
		certTime = ts
	}
	// 2 to 4. Algorithm, certificate validity, chain.
	var c *chain
	if v != nil {
		c, err = v.chain(rd, certTime, opts.AtDocumentTime)
	} else {
		c, err = coldChain(t, rd, certTime, opts.AtDocumentTime)
	}
	if err != nil {
		return nil, nil, err
	}
	// 5. Signature.
	if err := verifySignature(c.key, rd); err != nil {
		return nil, nil, err
	}
	// 6. Freshness, against the current time even with AtDocumentTime.
	skew := opts.MaxFutureSkew
	if skew == 0 {
		skew = DefaultMaxFutureSkew
	}
	if ts.Sub(now) > skew {
		return nil, nil, &FreshnessError{Timestamp: ts, At: now, Future: true, Limit: skew}
	}
	if opts.MaxAge > 0 && now.Sub(ts) > opts.MaxAge {
		return nil, nil, &FreshnessError{Timestamp: ts, At: now, Limit: opts.MaxAge}
	}
	// 7. PCRs (pcrs, or nitrotpm_pcrs).
	if err := checkPCRs(opts.PCRs, rd.pcrs); err != nil {
		return nil, nil, err
	}
	// 8. Nonce, user data, public key.
	for _, f := range [...]struct {
		name      string
		want, got []byte
	}{
		{"nonce", opts.Nonce, rd.nonce},
		{"user_data", opts.UserData, rd.userData},
		{"public_key", opts.PublicKey, rd.publicKey},
	} {
		if f.want != nil && (f.got == nil || subtle.ConstantTimeCompare(f.want, f.got) != 1) {
			return nil, nil, &MismatchError{Field: f.name, Want: bytes.Clone(f.want), Got: bytes.Clone(f.got)}
		}
	}
	// 9. Debug mode, for enclaves (a NitroTPM document has none).
	if kind == kindEnclave && !opts.AllowDebugUnsafe && debugPCRs(rd.pcrs) {
		return nil, nil, &DebugModeError{}
	}
	return rd, c, nil
}

// coldChain is steps 2 to 4 without a cache.
func coldChain(t *trust, rd *rawDocument, certTime time.Time, atDocumentTime bool) (*chain, error) {
	leaf, bundle, err := parseCertificates(rd)
	if err != nil {
		return nil, err
	}
	// 2. Algorithm.
	c, err := newChain(leaf, bundle, bundle)
	if err != nil {
		return nil, err
	}
	// 3. Certificate validity.
	if err := c.checkValidity(certTime, atDocumentTime); err != nil {
		return nil, err
	}
	// 4. Chain.
	if _, err := t.verifyChain(c, rd, certTime); err != nil {
		return nil, err
	}
	return c, nil
}

// checkPCRs is step 7: every mismatch, in index order.
func checkPCRs(want, got map[int][]byte) error {
	if len(want) == 0 {
		return nil
	}
	idx := make([]int, 0, len(want))
	for i := range want {
		idx = append(idx, i)
	}
	slices.Sort(idx)
	var mm []PCRMismatch
	for _, i := range idx {
		// nil expects the PCR absent; any other value, even empty (no
		// PCR is), expects it present and equal.
		g, ok := got[i]
		if !bytes.Equal(want[i], g) || (want[i] == nil) == ok {
			mm = append(mm, PCRMismatch{Index: i, Want: bytes.Clone(want[i]), Got: bytes.Clone(g)})
		}
	}
	if mm != nil {
		return &PCRMismatchError{Mismatches: mm}
	}
	return nil
}
