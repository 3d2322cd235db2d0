// SPDX-License-Identifier: Apache-2.0

package kmsserver

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"io"
	"reflect"
	"strings"
	"testing"
)

// checkKeyPair asserts priv is PKCS#8 and pub the SPKI of the same key.
func checkKeyPair(t testing.TB, priv, pub []byte) {
	t.Helper()
	k, err := x509.ParsePKCS8PrivateKey(priv)
	if err != nil {
		t.Fatalf("private key is not PKCS#8: %v", err)
	}
	p, err := x509.ParsePKIXPublicKey(pub)
	if err != nil {
		t.Fatalf("public key is not SPKI: %v", err)
	}
	type equaler interface{ Equal(crypto.PublicKey) bool }
	if !p.(equaler).Equal(k.(crypto.Signer).Public()) {
		t.Fatalf("public key %v does not match private key %v", reflect.TypeOf(p), reflect.TypeOf(k))
	}
}

func mustECDSA(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func ioNopCloser(s string) io.ReadCloser { return io.NopCloser(strings.NewReader(s)) }
