// SPDX-License-Identifier: Apache-2.0

package kmsserver

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"path/filepath"
	"testing"
)

// TestAWSCLIMLDSAAndImport follows AWS's documented procedures with the
// aws CLI (Debian's, older than both features: the enum values pass
// through) and OpenSSL: an ML_DSA_65 key signs a RAW message and an
// EXTERNAL_MU computed from get-public-key's DER with OpenSSL as AWS's
// documentation does, both verified here with circl; and an ECC_NIST_P256
// key takes an OpenSSL private key wrapped with RSA_AES_KEY_WRAP_SHA_256
// (openssl enc -id-aes256-wrap-pad and pkeyutl), and signs under its
// public key.
func TestAWSCLIMLDSAAndImport(t *testing.T) {
	awsCLI(t)
	env := newEnv(t, nil)
	run, home := awsCLIRun(t, env)
	b64 := func(m map[string]any, k string) []byte {
		t.Helper()
		b, err := base64.StdEncoding.DecodeString(m[k].(string))
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		return b
	}
	file := func(name string) string { return filepath.Join(home, name) }

	ck := run("create-key", "--key-spec", "ML_DSA_65", "--key-usage", "SIGN_VERIFY")
	id := ck["KeyMetadata"].(map[string]any)["KeyId"].(string)
	msg := []byte("signed through the aws cli with ML-DSA")
	writeTemp(t, home, "msg", msg)
	pkOut := run("get-public-key", "--key-id", id)
	writeTemp(t, home, "public_key.der", b64(pkOut, "PublicKey"))
	cc := mldsaCircl["ML_DSA_65"]
	raw := parseMLDSASPKI(t, b64(pkOut, "PublicKey"), cc.oid)
	pk, err := cc.scheme.UnmarshalBinaryPublicKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	s := run("sign", "--key-id", id, "--message", "fileb://"+file("msg"), "--message-type", "RAW", "--signing-algorithm", "ML_DSA_SHAKE_256")
	if !cc.scheme.Verify(pk, msg, b64(s, "Signature"), nil) {
		t.Fatal("RAW signature from the CLI does not verify with circl")
	}
	// μ as AWS's documentation computes it with OpenSSL.
	pub := mustOSSL(t, home, "asn1parse", "-inform", "DER", "-in", "public_key.der", "-strparse", "17", "-noout", "-out", "-")
	writeTemp(t, home, "pub.raw", pub)
	tr := mustOSSL(t, home, "dgst", "-shake256", "-xoflen", "64", "-binary", "pub.raw")
	writeTemp(t, home, "mprime", append(append(tr, 0, 0), msg...))
	writeTemp(t, home, "mu.bin", mustOSSL(t, home, "dgst", "-shake256", "-xoflen", "64", "-binary", "mprime"))
	s = run("sign", "--key-id", id, "--message", "fileb://"+file("mu.bin"), "--message-type", "EXTERNAL_MU", "--signing-algorithm", "ML_DSA_SHAKE_256")
	if !cc.scheme.Verify(pk, msg, b64(s, "Signature"), nil) {
		t.Fatal("EXTERNAL_MU signature from the CLI does not verify with circl for the message")
	}
	writeTemp(t, home, "sig", b64(s, "Signature"))
	v := run("verify", "--key-id", id, "--message", "fileb://"+file("msg"), "--message-type", "RAW",
		"--signing-algorithm", "ML_DSA_SHAKE_256", "--signature", "fileb://"+file("sig"))
	if v["SignatureValid"] != true {
		t.Fatalf("verify: %v", v)
	}

	// Import with RSA_AES_KEY_WRAP_SHA_256 (which wraps RSA and ECC
	// material only): an OpenSSL P-256 key.
	ek := run("create-key", "--origin", "EXTERNAL", "--key-spec", "ECC_NIST_P256", "--key-usage", "SIGN_VERIFY")
	eid := ek["KeyMetadata"].(map[string]any)["KeyId"].(string)
	p := run("get-parameters-for-import", "--key-id", eid, "--wrapping-algorithm", "RSA_AES_KEY_WRAP_SHA_256", "--wrapping-key-spec", "RSA_3072")
	writeTemp(t, home, "ImportToken.bin", b64(p, "ImportToken"))
	material, spki := opensslKey(t, "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256")
	writeTemp(t, home, "EncryptedKeyMaterial.bin", opensslRSAAES(t, b64(p, "PublicKey"), material, "sha256"))
	run("import-key-material", "--key-id", eid, "--encrypted-key-material", "fileb://"+file("EncryptedKeyMaterial.bin"),
		"--import-token", "fileb://"+file("ImportToken.bin"), "--expiration-model", "KEY_MATERIAL_DOES_NOT_EXPIRE")
	sig := run("sign", "--key-id", eid, "--message", "fileb://"+file("msg"), "--message-type", "RAW", "--signing-algorithm", "ECDSA_SHA_256")
	ecPub, err := x509.ParsePKIXPublicKey(spki)
	if err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256(msg)
	if !ecdsa.VerifyASN1(ecPub.(*ecdsa.PublicKey), d[:], b64(sig, "Signature")) {
		t.Fatal("the CLI's signature does not verify under the imported key's public key")
	}
}
