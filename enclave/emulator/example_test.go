// SPDX-License-Identifier: Apache-2.0

package emulator_test

import (
	"crypto/sha512"
	"crypto/x509"
	"fmt"
	"log/slog"

	"github.com/enclavekit/enclavekit/attestation"
	"github.com/enclavekit/enclavekit/enclave/emulator"
)

// An emulator running a given image: its documents verify only against its
// own root, given explicitly.
func ExampleNew() {
	pcr0 := sha512.Sum384([]byte("my enclave image"))
	nsm, err := emulator.New(&emulator.Config{
		PCRs:   map[int][]byte{0: pcr0[:]},
		Logger: slog.New(slog.DiscardHandler), // it warns that its documents prove nothing
	})
	if err != nil {
		panic(err)
	}
	defer nsm.Close()

	doc, err := nsm.Attestation([]byte("nonce"), nil, nil)
	if err != nil {
		panic(err)
	}
	verified, err := attestation.Verify(doc, attestation.Options{
		Roots: []*x509.Certificate{nsm.Root()}, // never trusted by default
		PCRs:  map[int][]byte{0: pcr0[:]},
		Nonce: []byte("nonce"),
	})
	fmt.Println(err, len(verified.PCRs), verified.Digest)

	_, err = attestation.Verify(doc, attestation.Options{}) // the AWS root
	fmt.Println(attestation.ErrorCode(err))
	// Output:
	// <nil> 16 SHA384
	// untrusted_chain
}
