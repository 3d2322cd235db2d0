// SPDX-License-Identifier: Apache-2.0

package agent

import (
	"crypto/rsa"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"sync"
	"time"

	"github.com/enclavekit/enclavekit/recipient"
)

// keyring holds the agent's ephemeral RSA key, replaces it on schedule and
// zeroises a retired key once no request uses it any more.
//
// The key is replaced on schedule only, never because of what a response
// did: the parent instance relays every response, and whatever the agent
// does differently after an envelope that did not open (a new public key
// in the next attestation document, a key generation it could time) would
// tell it whether the padding of a tampered envelope was valid.
type keyring struct {
	rand  io.Reader
	bits  int
	every time.Duration
	clock func() time.Time
	log   *slog.Logger

	mu          sync.Mutex
	cur         *ringKey
	generations int // keys generated so far
}

type ringKey struct {
	priv    *rsa.PrivateKey
	spki    []byte // DER SubjectPublicKeyInfo, for the attestation request
	created time.Time
	refs    int  // requests using the key; guarded by keyring.mu
	retired bool // replaced; zeroised when refs drops to 0
}

func newKeyring(rand io.Reader, bits int, every time.Duration, clock func() time.Time, log *slog.Logger) (*keyring, error) {
	k := &keyring{rand: rand, bits: bits, every: every, clock: clock, log: log}
	rk, err := k.generate()
	if err != nil {
		return nil, err
	}
	k.cur, k.generations = rk, 1
	return k, nil
}

// generated returns how many keys the keyring has generated.
func (k *keyring) generated() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.generations
}

func (k *keyring) generate() (*ringKey, error) {
	priv, err := recipient.GenerateKey(k.rand, k.bits)
	if err != nil {
		return nil, fmt.Errorf("agent: generating the RSA key: %w", err)
	}
	spki, err := recipient.PublicKeyDER(&priv.PublicKey)
	if err != nil {
		zeroise(priv)
		return nil, fmt.Errorf("agent: encoding the RSA public key: %w", err)
	}
	return &ringKey{priv: priv, spki: spki, created: k.clock()}, nil
}

// acquire returns the current key, replacing it first when it is older than
// the rotation period. The caller must release it.
func (k *keyring) acquire() (*ringKey, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.cur == nil {
		return nil, errClosed
	}
	if k.every > 0 && k.clock().Sub(k.cur.created) >= k.every {
		if err := k.rotateLocked(); err != nil {
			return nil, err
		}
	}
	k.cur.refs++
	return k.cur, nil
}

// rotate replaces the key now.
func (k *keyring) rotate() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.cur == nil {
		return errClosed
	}
	return k.rotateLocked()
}

func (k *keyring) rotateLocked() error {
	rk, err := k.generate()
	if err != nil {
		return err
	}
	k.generations++
	old := k.cur
	k.cur = rk
	k.retireLocked(old)
	k.log.Info("agent: rotated the recipient RSA key", slog.Int("bits", k.bits))
	return nil
}

func (k *keyring) retireLocked(rk *ringKey) {
	rk.retired = true
	if rk.refs == 0 {
		zeroise(rk.priv)
	}
}

func (k *keyring) release(rk *ringKey) {
	k.mu.Lock()
	defer k.mu.Unlock()
	rk.refs--
	if rk.retired && rk.refs == 0 {
		zeroise(rk.priv)
	}
}

// close retires the current key.
func (k *keyring) close() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.cur != nil {
		k.retireLocked(k.cur)
		k.cur = nil
	}
}

// zeroise overwrites the private values of priv in place, as far as Go lets
// us reach them (the standard library may keep copies in its internal
// precomputed form, and the garbage collector may have moved old copies):
// best effort.
func zeroise(priv *rsa.PrivateKey) {
	if priv == nil {
		return
	}
	wipe := func(x *big.Int) {
		if x != nil {
			clear(x.Bits())
			x.SetInt64(0)
		}
	}
	wipe(priv.D)
	for _, p := range priv.Primes {
		wipe(p)
	}
	wipe(priv.Precomputed.Dp)
	wipe(priv.Precomputed.Dq)
	wipe(priv.Precomputed.Qinv)
}
