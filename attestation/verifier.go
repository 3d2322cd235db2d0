// SPDX-License-Identifier: Apache-2.0

package attestation

import (
	"container/list"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"sync"
	"time"
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
	// CacheSize bounds the number of verified chains kept (least recently
	// used evicted first): zero means DefaultCacheSize, negative disables
	// the cache.
	CacheSize int
}

// Verifier verifies attestation documents like [Verify], for services that
// verify many: it remembers the certificate chains whose signatures it has
// verified, so that a document signed by a leaf it has seen costs one ECDSA
// verification (the COSE signature) instead of five.
//
// The cache is keyed by a SHA-256 hash over the exact DER bytes of the leaf
// and of every cabundle certificate; it is filled only with chains that
// verified to the Verifier's roots, so no input can make it accept a chain
// it has not verified. Certificate validity is not cached: it is checked
// at every verification time. A Verifier is safe for concurrent use.
type Verifier struct {
	trust *trust
	cache *chainCache // nil: no caching
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
		v.cache = newChainCache(size)
	}
	return v, nil
}

// Verify verifies data as [Verify] does, with every check in the same
// order, using the Verifier's roots: opts.Roots must be nil. When the exact
// chain (leaf and cabundle) was verified before, step 4 is skipped; steps 1
// to 3 and 5 to 9 always run.
func (v *Verifier) Verify(data []byte, opts Options) (*Document, error) {
	now := opts.CurrentTime
	if now.IsZero() {
		now = time.Now()
	}
	if opts.Roots != nil {
		return nil, &OptionsError{Reason: "Options.Roots must be nil with a Verifier (set VerifierConfig.Roots)"}
	}
	return verify(v.trust, v.cache, data, &opts, now)
}

// chainKey identifies a chain by its exact bytes.
type chainKey [sha256.Size]byte

// newChainKey hashes the count of certificates, then each certificate's
// length and DER, leaf first: distinct chains never share an encoding.
func newChainKey(rd *rawDocument) chainKey {
	h := sha256.New()
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(1+len(rd.cabundle)))
	h.Write(n[:])
	binary.BigEndian.PutUint64(n[:], uint64(len(rd.leaf)))
	h.Write(n[:])
	h.Write(rd.leaf)
	for _, c := range rd.cabundle {
		binary.BigEndian.PutUint64(n[:], uint64(len(c)))
		h.Write(n[:])
		h.Write(c)
	}
	var k chainKey
	h.Sum(k[:0])
	return k
}

// chainCache is a bounded LRU of verified chains, safe for concurrent use.
type chainCache struct {
	mu    sync.Mutex
	size  int
	ll    *list.List // of *cacheEntry, most recent first
	items map[chainKey]*list.Element
}

type cacheEntry struct {
	key   chainKey
	chain *chain
}

func newChainCache(size int) *chainCache {
	return &chainCache{size: size, ll: list.New(), items: make(map[chainKey]*list.Element)}
}

func (c *chainCache) get(k chainKey) (*chain, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.items[k]
	if !ok {
		return nil, false
	}
	c.ll.MoveToFront(e)
	return e.Value.(*cacheEntry).chain, true
}

func (c *chainCache) add(k chainKey, ch *chain) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[k]; ok {
		c.ll.MoveToFront(e)
		return
	}
	c.items[k] = c.ll.PushFront(&cacheEntry{key: k, chain: ch})
	for c.ll.Len() > c.size {
		last := c.ll.Back()
		c.ll.Remove(last)
		delete(c.items, last.Value.(*cacheEntry).key)
	}
}

// len returns the number of cached chains (for tests).
func (c *chainCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ll.Len()
}
