// SPDX-License-Identifier: Apache-2.0

package agent

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"
)

func TestKeyPairMatches(t *testing.T) {
	pair := func(k any, pub any) ([]byte, []byte) {
		t.Helper()
		priv, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		p, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		return priv, p
	}
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	edPub, edKey, _ := ed25519.GenerateKey(rand.Reader)
	edPriv, edPubDER := pair(edKey, edPub)
	otherEd, _, _ := ed25519.GenerateKey(rand.Reader)
	_, otherEdDER := pair(edKey, otherEd)
	rsaPriv, rsaPub := pair(rsaKey, &rsaKey.PublicKey)
	ecPriv, ecPub := pair(p256, &p256.PublicKey)
	_, otherPub := pair(other, &other.PublicKey)
	p384Priv, p384Pub := pair(p384, &p384.PublicKey)

	// secp256k1, built by hand (crypto/x509 has no such curve).
	ecInner, _ := asn1.Marshal(struct {
		Version int
		Key     []byte
	}{1, make([]byte, 32)})
	k1 := func(curve asn1.ObjectIdentifier, inner []byte) []byte {
		b, err := asn1.Marshal(struct {
			Version int
			Algo    pkix.AlgorithmIdentifier
			Key     []byte
		}{0, pkix.AlgorithmIdentifier{Algorithm: oidECPublicKey, Parameters: asn1.RawValue{FullBytes: mustOID(t, curve)}}, inner})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	short, _ := asn1.Marshal(struct {
		Version int
		Key     []byte
	}{1, make([]byte, 31)})

	for _, tc := range []struct {
		name, spec string
		priv, pub  []byte
		want       bool
	}{
		{"rsa", "RSA_2048", rsaPriv, rsaPub, true},
		{"rsa as 3072", "RSA_3072", rsaPriv, rsaPub, false},
		{"rsa as ec", "ECC_NIST_P256", rsaPriv, rsaPub, false},
		{"p256", "ECC_NIST_P256", ecPriv, ecPub, true},
		{"p256 other public key", "ECC_NIST_P256", ecPriv, otherPub, false},
		{"p256 as p384", "ECC_NIST_P384", ecPriv, ecPub, false},
		{"p384", "ECC_NIST_P384", p384Priv, p384Pub, true},
		{"p384 rsa public key", "ECC_NIST_P384", p384Priv, rsaPub, false},
		{"ed25519", "ECC_NIST_EDWARDS25519", edPriv, edPubDER, true},
		{"ed25519 other public key", "ECC_NIST_EDWARDS25519", edPriv, otherEdDER, false},
		{"ed25519 as p256", "ECC_NIST_P256", edPriv, edPubDER, false},
		{"garbage", "ECC_NIST_P256", []byte{0x30, 0x00}, ecPub, false},
		{"empty", "RSA_2048", nil, rsaPub, false},
		{"unknown spec", "RSA_1024", rsaPriv, rsaPub, false},
		{"secp256k1", "ECC_SECG_P256K1", k1(oidSecp256k1, ecInner), nil, true},
		{"secp256k1 short scalar", "ECC_SECG_P256K1", k1(oidSecp256k1, short), nil, false},
		{"sm2 as secp256k1", "ECC_SECG_P256K1", k1(oidSM2, ecInner), nil, false},
		{"sm2", "SM2", k1(oidSM2, ecInner), nil, true},
		{"p256 as secp256k1", "ECC_SECG_P256K1", ecPriv, ecPub, false},
		{"secp256k1 trailing", "ECC_SECG_P256K1", append(k1(oidSecp256k1, ecInner), 0), nil, false},
	} {
		if got := keyPairMatches(tc.spec, tc.priv, tc.pub); got != tc.want {
			t.Errorf("%s: keyPairMatches = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func mustOID(t *testing.T, oid asn1.ObjectIdentifier) []byte {
	t.Helper()
	b, err := asn1.Marshal(oid)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func FuzzKeyPairMatches(f *testing.F) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	priv, _ := x509.MarshalPKCS8PrivateKey(k)
	pub, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	f.Add("ECC_NIST_P256", priv, pub)
	f.Add("ECC_SECG_P256K1", priv, pub)
	f.Fuzz(func(t *testing.T, spec string, priv, pub []byte) {
		_ = keyPairMatches(spec, priv, pub) // must not panic
	})
}

// TestGenerateDataKeyPairEverySpec: every key pair spec kms-server makes
// passes the agent's check (a parse and public-key match where the
// standard library can), so the check refuses only what it should.
func TestGenerateDataKeyPairEverySpec(t *testing.T) {
	env := startKMSServer(t, "tcp")
	policy := `{"Version":"2012-10-17","Statement":[
	 {"Sid":"Admin","Effect":"Allow","Principal":{"AWS":"` + adminARN + `"},"Action":"kms:*","Resource":"*"},
	 {"Sid":"Enclave","Effect":"Allow","Principal":{"AWS":"` + enclaveARN + `"},"Action":"kms:GenerateDataKeyPair","Resource":"*"}]}`
	ck, err := env.admin(t).CreateKey(context.Background(), &awskms.CreateKeyInput{Policy: aws.String(policy)})
	if err != nil {
		t.Fatal(err)
	}
	c := env.agentFor(t, image("pairs"))
	for _, spec := range []string{"RSA_2048", "ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521", "ECC_SECG_P256K1", "ECC_NIST_EDWARDS25519"} {
		kp, err := c.GenerateDataKeyPair(context.Background(), &awskms.GenerateDataKeyPairInput{KeyId: ck.KeyMetadata.KeyId,
			KeyPairSpec: types.DataKeyPairSpec(spec)})
		var ae smithy.APIError
		if errors.As(err, &ae) && ae.ErrorCode() == "ValidationException" {
			t.Logf("%s: kms-server does not make it: %v", spec, err)
			continue
		}
		if err != nil || len(kp.PrivateKeyPlaintext) == 0 || kp.KeyPairSpec != spec {
			t.Errorf("%s: %v", spec, err)
		}
	}
}
