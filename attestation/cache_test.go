// SPDX-License-Identifier: Apache-2.0

package attestation

import "testing"

// newVerifier is NewVerifier for a configuration that must be valid.
func newVerifier(tb testing.TB, cfg *VerifierConfig) *Verifier {
	tb.Helper()
	v, err := NewVerifier(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

func TestChainCacheLRU(t *testing.T) {
	c := newLRU[chainKey, *chain](2)
	k := func(b byte) chainKey { return chainKey{b} }
	a, b, d := &chain{}, &chain{}, &chain{}
	c.add(k(1), a)
	c.add(k(2), b)
	if got, ok := c.get(k(1)); !ok || got != a { // 1 is now the most recent
		t.Fatal("entry 1 missing")
	}
	c.add(k(3), d) // evicts 2, the least recently used
	if _, ok := c.get(k(2)); ok {
		t.Error("entry 2 not evicted")
	}
	if got, ok := c.get(k(3)); !ok || got != d {
		t.Error("entry 3 missing")
	}
	c.add(k(3), a) // re-adding keeps the first chain
	if got, _ := c.get(k(3)); got != d {
		t.Error("entry 3 replaced")
	}
	if c.len() != 2 {
		t.Errorf("len %d, want 2", c.len())
	}
}
