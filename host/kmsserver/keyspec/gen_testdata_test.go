// SPDX-License-Identifier: Apache-2.0

package keyspec

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var updateKeys = flag.Bool("update-keys", false, "regenerate the fixed benchmark keys in testdata/")

// benchKey returns the fixed key of spec from testdata/bench-<spec>.der, so
// that benchmarks under callgrind neither pay for nor vary with key
// generation. The files are test keys, nothing else; add missing ones with
// go test -run TestBenchKeys -args -update-keys.
func benchKey(b *testing.B, spec Spec) *Key {
	b.Helper()
	der, err := os.ReadFile(filepath.Join("testdata", "bench-"+string(spec)+".der"))
	if err != nil {
		b.Fatal(err)
	}
	k, err := ParsePrivateKey(spec, der)
	if err != nil {
		b.Fatal(err)
	}
	return k
}

// TestBenchKeys checks that every fixed benchmark key parses as its spec.
func TestBenchKeys(t *testing.T) {
	for _, spec := range append(signingSpecs, HMAC256) {
		p := filepath.Join("testdata", "bench-"+string(spec)+".der")
		if _, err := os.Stat(p); *updateKeys && err != nil { // only missing keys: the others' numbers stay comparable
			if err := os.WriteFile(p, testKey(t, spec).Marshal(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		der, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParsePrivateKey(spec, der); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
}
