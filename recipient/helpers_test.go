// SPDX-License-Identifier: Apache-2.0

package recipient

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
)

// Keys are slow to generate; the tests share one per size. 2048 and 4096
// come from testdata (throwaway keys made with openssl genpkey) so that
// benchmarks under callgrind execute the same instructions in every run;
// other sizes are generated once.
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
	var k *rsa.PrivateKey
	if b, err := os.ReadFile(filepath.Join("testdata", "rsa"+strconv.Itoa(bits)+".pem")); err == nil {
		blk, _ := pem.Decode(b)
		if blk == nil {
			t.Fatalf("testdata key %d: no PEM", bits)
		}
		p, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		k = p.(*rsa.PrivateKey)
	} else {
		var err error
		if k, err = rsa.GenerateKey(rand.Reader, bits); err != nil {
			t.Fatal(err)
		}
	}
	if k.N.BitLen() != bits {
		t.Fatalf("test key has %d bits, want %d", k.N.BitLen(), bits)
	}
	keys[bits] = k
	return k
}
