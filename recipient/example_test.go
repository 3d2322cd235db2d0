// SPDX-License-Identifier: Apache-2.0

package recipient_test

import (
	"bytes"
	"errors"
	"fmt"
	"log"

	"github.com/enclavekit/enclavekit/recipient"
)

// The key service seals a data key to the public key from a verified
// attestation document; the enclave opens it with its ephemeral key.
func ExampleSeal() {
	// Enclave: an ephemeral key pair; the SPKI goes into the attestation request.
	priv, err := recipient.GenerateKey(nil, 2048)
	if err != nil {
		log.Fatal(err)
	}
	spki, err := recipient.PublicKeyDER(&priv.PublicKey)
	if err != nil {
		log.Fatal(err)
	}

	// Key service: spki comes from the verified document's public_key.
	dataKey := bytes.Repeat([]byte{0x2a}, 32)
	blob, err := recipient.Seal(spki, dataKey, nil)
	if err != nil {
		log.Fatal(err)
	}

	// Enclave: open CiphertextForRecipient.
	got, err := recipient.Open(priv, blob)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(blob), bytes.Equal(got, dataKey))
	// Output: 493 true
}

// Open reports a blob sealed to another key before touching the private key.
func ExampleOpen() {
	mine, _ := recipient.GenerateKey(nil, 0)
	other, _ := recipient.GenerateKey(nil, 0)
	otherSPKI, _ := recipient.PublicKeyDER(&other.PublicKey)
	blob, _ := recipient.Seal(otherSPKI, []byte("secret"), nil)

	_, err := recipient.Open(mine, blob)
	var mismatch *recipient.RecipientMismatchError
	switch {
	case errors.As(err, &mismatch):
		fmt.Println("addressed to another key:", bytes.Equal(mismatch.Envelope, recipient.SubjectKeyID(otherSPKI)))
	case errors.Is(err, recipient.ErrDecrypt), errors.Is(err, recipient.ErrBadPadding):
		fmt.Println("decryption failed") // report one generic error outward
	case err != nil:
		fmt.Println("rejected:", err)
	}
	// Output: addressed to another key: true
}
