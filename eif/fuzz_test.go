// SPDX-License-Identifier: Apache-2.0

package eif

import (
	"bytes"
	"crypto/elliptic"
	"errors"
	"os"
	"reflect"
	"testing"
)

// FuzzRead feeds Read arbitrary bytes, seeded from images Write produces
// (unsigned, signed with each curve, with and without metadata), from the
// golden images, and from hand-assembled ones. Read must never panic, must classify every error,
// and an accepted image must measure the same twice and describe itself.
func FuzzRead(f *testing.F) {
	for _, g := range []string{"testdata/golden/signed.eif", "testdata/golden/unsigned.eif"} {
		b, err := os.ReadFile(g)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(assemble(4, minimal()))
	f.Add(assemble(2, minimal()))
	raw, _ := writeImage(f, smallSpec())
	f.Add(raw)
	for _, c := range []elliptic.Curve{elliptic.P256(), elliptic.P384(), elliptic.P521()} {
		spec := smallSpecWith(testSigner(f, c))
		if c == elliptic.P256() {
			spec.Metadata = nil
		}
		raw, _ := writeImage(f, spec)
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := Read(bytes.NewReader(data))
		if err != nil {
			if img != nil {
				t.Fatal("image returned beside an error")
			}
			n := 0
			for _, s := range []error{ErrMalformed, ErrUnsupported, ErrCRCMismatch, ErrBadSignature} {
				if errors.Is(err, s) {
					n++
				}
			}
			if n != 1 {
				t.Fatalf("error matches %d classes: %v", n, err)
			}
			return
		}
		if img.Size != int64(len(data)) {
			t.Fatalf("size %d for %d bytes", img.Size, len(data))
		}
		again, err := Read(bytes.NewReader(data))
		if err != nil || !reflect.DeepEqual(again.Measurements, img.Measurements) {
			t.Fatalf("second read differs: %v", err)
		}
		if _, err := img.Describe().JSON(); err != nil {
			t.Fatal(err)
		}
	})
}
