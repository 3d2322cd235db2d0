// SPDX-License-Identifier: Apache-2.0

package keyspec

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/asn1"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// ecPKCS8WithPublicKey returns k's PKCS #8 with the RFC 5915 publicKey
// field replaced by pub (nil: left out), as a hand-edited import would
// carry it.
func ecPKCS8WithPublicKey(t *testing.T, k *ecdsa.PrivateKey, pub []byte) []byte {
	t.Helper()
	type ecPrivateKey struct {
		Version    int
		PrivateKey []byte
		Curve      asn1.ObjectIdentifier `asn1:"optional,explicit,tag:0"`
		PublicKey  asn1.BitString        `asn1:"optional,explicit,tag:1"`
	}
	type pkcs8 struct {
		Version    int
		Algorithm  asn1.RawValue
		PrivateKey []byte
	}
	der := testKeyOf(t, k).Marshal()
	var p pkcs8
	var ec ecPrivateKey
	if rest, err := asn1.Unmarshal(der, &p); err != nil || len(rest) != 0 {
		t.Fatal(err)
	}
	if rest, err := asn1.Unmarshal(p.PrivateKey, &ec); err != nil || len(rest) != 0 {
		t.Fatal(err)
	}
	ec.PublicKey = asn1.BitString{Bytes: pub, BitLength: 8 * len(pub)}
	var err error
	if p.PrivateKey, err = asn1.Marshal(ec); err != nil {
		t.Fatal(err)
	}
	out, err := asn1.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func testKeyOf(t *testing.T, k *ecdsa.PrivateKey) *Key {
	t.Helper()
	spec := map[elliptic.Curve]Spec{elliptic.P256(): ECCNISTP256, elliptic.P384(): ECCNISTP384, elliptic.P521(): ECCNISTP521}[k.Curve]
	key, err := fromECDSA(spec, specs[spec], k)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// TestParsePrivateKeyECPublicKey: NIST-curve material whose embedded public
// key is another key's, or no point of the curve at all, is refused with
// ErrKeyPairMismatch, as OpenSSL refuses it (`pkey -check`: "invalid
// private key"; an off-curve point does not load). crypto/x509 ignores the
// field, so without the check such material imported silently and
// GetPublicKey then answered with a key the importer never had. The
// compressed form of the right key and material without the field parse.
func TestParsePrivateKeyECPublicKey(t *testing.T) {
	for _, spec := range []Spec{ECCNISTP256, ECCNISTP384, ECCNISTP521} {
		t.Run(string(spec), func(t *testing.T) {
			k, other := testKey(t, spec).ec, mustGenerate(t, spec).ec
			size := (k.Curve.Params().BitSize + 7) / 8
			offCurve := append([]byte{4}, make([]byte, 2*size)...)
			for name, pub := range map[string][]byte{
				"another key's public key":  mustBytes(t, &other.PublicKey),
				"a point off the curve":     offCurve,
				"another key's, compressed": elliptic.MarshalCompressed(other.Curve, other.X, other.Y),
				"a truncated point":         mustBytes(t, &k.PublicKey)[:1+size],
			} {
				_, err := ParsePrivateKey(spec, ecPKCS8WithPublicKey(t, k, pub))
				if !errors.Is(err, ErrKeyPairMismatch) {
					t.Errorf("%s: %v, want ErrKeyPairMismatch", name, err)
				}
			}
			for name, pub := range map[string][]byte{
				"no public key":        nil,
				"the compressed point": elliptic.MarshalCompressed(k.Curve, k.X, k.Y),
				"the point":            mustBytes(t, &k.PublicKey),
			} {
				got, err := ParsePrivateKey(spec, ecPKCS8WithPublicKey(t, k, pub))
				if err != nil {
					t.Errorf("%s: %v", name, err)
					continue
				}
				if !got.ec.Equal(k) {
					t.Errorf("%s: parsed another key", name)
				}
			}
		})
	}
	// secp256k1's own parser says the same.
	k1 := testKey(t, ECCSECGP256K1)
	mismatched := bytes.Clone(k1.Marshal())
	at := bytes.Index(mismatched, k1.k1pub.SerializeUncompressed())
	copy(mismatched[at:], mustGenerate(t, ECCSECGP256K1).k1pub.SerializeUncompressed())
	if _, err := ParsePrivateKey(ECCSECGP256K1, mismatched); !errors.Is(err, ErrKeyPairMismatch) {
		t.Errorf("secp256k1 with another public key: %v, want ErrKeyPairMismatch", err)
	}
}

// TestECPublicKeyMismatchOpenSSL: OpenSSL, as an independent
// implementation, refuses the material TestParsePrivateKeyECPublicKey
// refuses, and accepts the control.
func TestECPublicKeyMismatchOpenSSL(t *testing.T) {
	ossl := opensslPath(t)
	dir := t.TempDir()
	k, other := testKey(t, ECCNISTP256).ec, mustGenerate(t, ECCNISTP256).ec
	check := func(name string, der []byte) error {
		f := filepath.Join(dir, name+".der")
		if err := os.WriteFile(f, der, 0o600); err != nil {
			t.Fatal(err)
		}
		return exec.Command(ossl, "pkey", "-inform", "DER", "-in", f, "-noout", "-check").Run()
	}
	if err := check("control", ecPKCS8WithPublicKey(t, k, mustBytes(t, &k.PublicKey))); err != nil {
		t.Fatalf("openssl pkey -check refuses the control key: %v", err)
	}
	if check("mismatch", ecPKCS8WithPublicKey(t, k, mustBytes(t, &other.PublicKey))) == nil {
		t.Error("openssl pkey -check accepts another key's public key")
	}
	if check("offcurve", ecPKCS8WithPublicKey(t, k, append([]byte{4}, make([]byte, 64)...))) == nil {
		t.Error("openssl pkey -check accepts a point off the curve")
	}
}

func mustGenerate(t *testing.T, spec Spec) *Key {
	t.Helper()
	k, err := Generate(spec)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustBytes(t *testing.T, pub *ecdsa.PublicKey) []byte {
	t.Helper()
	b, err := pub.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}
