// SPDX-License-Identifier: Apache-2.0

package keyspec_test

import (
	"errors"
	"fmt"

	"github.com/enclavekit/enclavekit/host/kmsserver/keyspec"
)

func Example() {
	// CreateKey: validate the spec/usage pair, then make the material.
	if err := keyspec.CheckKeyUsage(keyspec.ECCNISTP256, keyspec.SignVerify); err != nil {
		panic(err)
	}
	k, err := keyspec.Generate(keyspec.ECCNISTP256)
	if err != nil {
		panic(err)
	}
	stored := k.Marshal() // PKCS #8: wrap it before storing

	// Sign and Verify, later, from the stored material.
	k, err = keyspec.ParsePrivateKey(keyspec.ECCNISTP256, stored)
	if err != nil {
		panic(err)
	}
	msg := []byte("hello")
	sig, err := k.Sign(keyspec.ECDSA_SHA_256, keyspec.RAW, msg)
	if err != nil {
		panic(err)
	}
	fmt.Println(k.Verify(keyspec.ECDSA_SHA_256, keyspec.RAW, msg, sig))

	// A wrong pairing is AWS's InvalidKeyUsageException.
	_, err = k.Sign(keyspec.ECDSA_SHA_384, keyspec.RAW, msg)
	var usage *keyspec.KeyUsageError
	fmt.Println(errors.As(err, &usage), keyspec.Exception(err))

	// A signature over another message is KMSInvalidSignatureException.
	err = k.Verify(keyspec.ECDSA_SHA_256, keyspec.RAW, []byte("other"), sig)
	fmt.Println(errors.Is(err, keyspec.ErrInvalidSignature), keyspec.Exception(err))
	// Output:
	// <nil>
	// true InvalidKeyUsageException
	// true KMSInvalidSignatureException
}

func ExampleKey_DeriveSharedSecret() {
	alice, _ := keyspec.Generate(keyspec.ECCNISTP384)
	bob, _ := keyspec.Generate(keyspec.ECCNISTP384)
	alicePub, _ := alice.PublicKey()
	bobPub, _ := bob.PublicKey()
	s1, _ := alice.DeriveSharedSecret(keyspec.ECDH, bobPub)
	s2, _ := bob.DeriveSharedSecret(keyspec.ECDH, alicePub)
	fmt.Println(len(s1), string(s1) == string(s2))
	// Output: 48 true
}
