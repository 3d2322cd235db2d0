// SPDX-License-Identifier: Apache-2.0

package attestation

import (
	"container/list"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"
)

// DefaultCacheSize is the number of verified chains a [Verifier] keeps when
// VerifierConfig.CacheSize is zero. AWS reuses a leaf for three hours, so
// one entry per enclave (per leaf rotation) is enough.
const DefaultCacheSize = 256

// VerifierConfig configures a [Verifier]. A nil *VerifierConfig is the
// zero value: the embedded AWS root and [DefaultCacheSize].
type VerifierConfig struct {
	// Roots are the trusted roots; nil trusts only the embedded AWS Nitro
	// root. See Options.Roots.
	Roots []*x509.Certificate
	// CacheSize bounds the number of verified chains kept, and separately
	// the number of verified CA bundles (least recently used evicted
	// first): zero means DefaultCacheSize, negative disables both caches
	// (concurrent documents with the same chain still share one chain
	// verification).
	CacheSize int
}

// Verifier verifies attestation documents like [Verify], for services that
// verify many, at a fraction of the cost:
//
//   - Warm: a document whose exact chain (leaf and cabundle) was verified
//     before costs one ECDSA verification, the COSE signature.
//   - Semi-cold: a new leaf under CA certificates that were verified
//     together before (one enclave among a fleet that shares the zonal and
//     instance CAs) costs two: the leaf's certificate signature, checked
//     against the cached issuing CA, and the COSE signature. Every other
//     rule crypto/x509 would apply to the leaf is applied as well (see
//     step 4 of [Verify]); when a CA above the leaf carries anything this
//     path does not evaluate (name or policy constraints, policy mappings,
//     any extension beyond basic constraints, key usage, key identifiers,
//     CRL distribution points and authority information access), or the
//     leaf does, or the leaf's issuer is not the CA that issued the cached
//     path, the full crypto/x509 verification runs instead. A leaf that
//     names the cached issuer but whose signature does not verify is
//     rejected after that one check, so forged leaves under a known CA
//     bundle cost no chain verification.
//   - Cold: concurrent documents with the same uncached chain wait for
//     one verification of that chain instead of each doing it.
//
// The caches are keyed by SHA-256 hashes over the exact DER bytes of the
// certificates (length-prefixed); they are filled only with chains and CA
// bundles that verified to the Verifier's roots, so no input can make them
// accept a chain that was not verified. Certificate validity is not cached:
// it is checked at every verification time. A Verifier is safe for
// concurrent use.
type Verifier struct {
	trust  *trust
	chains *lru[chainKey, *chain]   // verified chains; nil: no caching
	cas    *lru[chainKey, *caChain] // verified CA bundles; nil with chains
	flight singleflight.Group       // step 4, one per chain key at a time
	stats  verifierStats
}

// verifierStats counts how step 4 was done, for tests and benchmarks.
type verifierStats struct {
	full atomic.Int64 // crypto/x509 chain verifications
	fast atomic.Int64 // leaves verified under a cached CA bundle
}

// NewVerifier returns a Verifier for cfg; nil cfg trusts the embedded AWS
// root with the default cache size. An invalid cfg (empty non-nil Roots, a
// nil or unparsable root) is an [OptionsError] matching
// [ErrInvalidOptions], and no Verifier.
func NewVerifier(cfg *VerifierConfig) (*Verifier, error) {
	if cfg == nil {
		cfg = &VerifierConfig{}
	}
	v := &Verifier{}
	if cfg.Roots == nil {
		v.trust = defaultTrust()
	} else {
		var err error
		if v.trust, err = newTrust(cfg.Roots); err != nil {
			return nil, err
		}
	}
	size := cfg.CacheSize
	if size == 0 {
		size = DefaultCacheSize
	}
	if size > 0 {
		v.chains = newLRU[chainKey, *chain](size)
		v.cas = newLRU[chainKey, *caChain](size)
	}
	return v, nil
}

// Verify verifies data as [Verify] does, with every check in the same
// order, using the Verifier's roots: opts.Roots must be nil. When the exact
// chain (leaf and cabundle) was verified before, step 4 is skipped; when
// only its CA bundle was, step 4 checks the leaf against the cached CAs
// (see [Verifier]). Steps 1 to 3 and 5 to 9 always run.
func (v *Verifier) Verify(data []byte, opts Options) (*Document, error) {
	return verifyKind(v, data, &opts, kindEnclave)
}

// VerifyNitroTPM verifies a NitroTPM document as [VerifyNitroTPM] does,
// with the Verifier's roots and caches (shared with [Verifier.Verify]: the
// chains are the same kind of chain); opts.Roots must be nil.
func (v *Verifier) VerifyNitroTPM(data []byte, opts Options) (*NitroTPMDocument, error) {
	d, err := verifyKind(v, data, &opts, kindNitroTPM)
	return (*NitroTPMDocument)(d), err
}

// chain is steps 2 to 4 with the caches.
func (v *Verifier) chain(rd *rawDocument, certTime time.Time, atDocumentTime bool) (*chain, error) {
	key := newChainKey(rd.leaf, rd.cabundle)
	if v.chains != nil {
		if c, ok := v.chains.get(key); ok {
			// Warm: 3. Certificate validity, at every verification.
			return c, c.checkValidity(certTime, atDocumentTime)
		}
	}
	var (
		bkey chainKey
		ca   *caChain
	)
	if v.cas != nil {
		bkey = newChainKey(nil, rd.cabundle)
		ca, _ = v.cas.get(bkey)
	}
	var (
		leaf            *x509.Certificate
		bundle, checked []*x509.Certificate
		err             error
	)
	if ca != nil {
		// Only the leaf is new: the cached bundle has the same bytes. The
		// Document gets the certificates handed out before; validity and
		// any full verification use the cache's private copies, which no
		// caller can have modified.
		if leaf, err = x509.ParseCertificate(rd.leaf); err != nil {
			return nil, &MalformedError{Field: "certificate", Reason: err.Error()}
		}
		bundle, checked = ca.bundle, ca.private
	} else if leaf, bundle, err = parseCertificates(rd); err != nil {
		return nil, err
	} else {
		checked = bundle
	}
	// 2. Algorithm.
	c, err := newChain(leaf, bundle, checked)
	if err != nil {
		return nil, err
	}
	// 3. Certificate validity.
	if err := c.checkValidity(certTime, atDocumentTime); err != nil {
		return nil, err
	}
	// 4. Chain, once for all concurrent documents with this chain: every
	// caller has checked validity at its own time, so the verdict reached
	// at the first caller's time holds for all (see trust.verifyChain).
	res, err, _ := v.flight.Do(string(key[:]), func() (any, error) {
		if v.chains != nil {
			if cached, ok := v.chains.get(key); ok {
				return cached, nil // verified meanwhile
			}
		}
		decided := false
		if ca != nil {
			var err error
			if decided, err = ca.checkLeaf(c.leaf); decided {
				v.stats.fast.Add(1)
				if err != nil {
					return nil, err
				}
			}
		}
		if !decided {
			v.stats.full.Add(1)
			path, err := v.trust.verifyChain(c, rd, certTime)
			if err != nil {
				return nil, err
			}
			if v.cas != nil && ca == nil {
				if ca := newCAChain(c.bundle, path); ca != nil {
					v.cas.add(bkey, ca)
				}
			}
		}
		if v.chains != nil {
			v.chains.add(key, c)
		}
		return c, nil
	})
	if err != nil {
		return nil, err
	}
	return res.(*chain), nil
}

// chainKey identifies a chain, or a CA bundle, by its exact bytes.
type chainKey [sha256.Size]byte

// newChainKey hashes the count of certificates, then each certificate's
// length and DER, leaf first (none for a bundle's key): distinct chains
// never share an encoding, and a bundle's key is never a chain's.
func newChainKey(leaf []byte, bundle [][]byte) chainKey {
	h := sha256.New()
	var n [8]byte
	if leaf == nil {
		h.Write([]byte("cabundle"))
	}
	binary.BigEndian.PutUint64(n[:], uint64(1+len(bundle)))
	h.Write(n[:])
	if leaf != nil {
		binary.BigEndian.PutUint64(n[:], uint64(len(leaf)))
		h.Write(n[:])
		h.Write(leaf)
	}
	for _, c := range bundle {
		binary.BigEndian.PutUint64(n[:], uint64(len(c)))
		h.Write(n[:])
		h.Write(c)
	}
	var k chainKey
	h.Sum(k[:0])
	return k
}

// lru is a bounded least-recently-used map, safe for concurrent use.
type lru[K comparable, V any] struct {
	mu    sync.Mutex
	size  int
	ll    *list.List // of *lruEntry, most recent first
	items map[K]*list.Element
}

type lruEntry[K comparable, V any] struct {
	key   K
	value V
}

func newLRU[K comparable, V any](size int) *lru[K, V] {
	return &lru[K, V]{size: size, ll: list.New(), items: make(map[K]*list.Element)}
}

func (c *lru[K, V]) get(k K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.items[k]
	if !ok {
		var zero V
		return zero, false
	}
	c.ll.MoveToFront(e)
	return e.Value.(*lruEntry[K, V]).value, true
}

// add inserts k unless it is present (the first value stays).
func (c *lru[K, V]) add(k K, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[k]; ok {
		c.ll.MoveToFront(e)
		return
	}
	c.items[k] = c.ll.PushFront(&lruEntry[K, V]{key: k, value: v})
	for c.ll.Len() > c.size {
		last := c.ll.Back()
		c.ll.Remove(last)
		delete(c.items, last.Value.(*lruEntry[K, V]).key)
	}
}

// len returns the number of entries (for tests).
func (c *lru[K, V]) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ll.Len()
}
