// SPDX-License-Identifier: Apache-2.0

package recipient

import (
	"errors"
	"testing"

	"github.com/enclavekit/enclavekit/internal/awsvectors"
)

// FuzzOpen feeds Open arbitrary envelopes under the real KMS vector's key,
// seeded with every shared blob and with Seal outputs to that key (so that
// mutations reach the RSA and padding steps). Open must never panic, must
// fail with exactly one documented class, and a plaintext it returns must
// fit in the envelope.
func FuzzOpen(f *testing.F) {
	key := readKey(f, "kms_genkey_edgebit")
	for _, n := range []string{"kms_genkey_edgebit", "kms_awssdkc_constructed", "kms_awssdkc_primitive", "openssl_stream_synthetic"} {
		f.Add(awsvectors.ReadFile(f, "cms", n+".ber"))
	}
	spki, err := PublicKeyDER(&key.PublicKey)
	if err != nil {
		f.Fatal(err)
	}
	for _, n := range []int{0, 32, 100} {
		blob, err := Seal(spki, make([]byte, n), nil)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(blob)
	}
	env := newTestEnv(f, key, []byte("chunked"))
	env.parts.content = indef(0xa0, tlv(0x04, env.ct[:5]), indef(0x24, tlv(0x04, env.ct[5:])))
	env.parts.definite = true
	f.Add(env.parts.encode())

	classes := []error{ErrMalformed, ErrRecipientMismatch, ErrDecrypt, ErrBadPadding}
	f.Fuzz(func(t *testing.T, blob []byte) {
		pt, err := Open(key, blob)
		if err != nil {
			if pt != nil {
				t.Fatalf("plaintext returned with error %v", err)
			}
			n := 0
			for _, c := range classes {
				if errors.Is(err, c) {
					n++
				}
			}
			if n != 1 {
				t.Fatalf("error %v matches %d classes", err, n)
			}
			if errors.Is(err, ErrTruncated) && !errors.Is(err, ErrMalformed) {
				t.Fatalf("truncation %v is not ErrMalformed", err)
			}
			return
		}
		if len(pt) >= len(blob) {
			t.Fatalf("%d-byte plaintext from a %d-byte envelope", len(pt), len(blob))
		}
	})
}
