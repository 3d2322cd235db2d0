// SPDX-License-Identifier: Apache-2.0

package recipient

import (
	"crypto/rand"
	"crypto/rsa"
	"sync"
	"testing"
)

// Keys are slow to generate; the tests share one per size.
var (
	keysMu sync.Mutex
	keys   = map[int]*rsa.PrivateKey{}
)

func testKey(t testing.TB, bits int) *rsa.PrivateKey {
	t.Helper()
	keysMu.Lock()
	defer keysMu.Unlock()
	if k := keys[bits]; k != nil {
		return k
	}
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	keys[bits] = k
	return k
}
