// SPDX-License-Identifier: Apache-2.0

package kmsserver

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/enclavekit/enclavekit/host/kmsserver/keywrap"
)

// FuzzImportToken: whatever ImportToken a caller sends, the token parser
// answers InvalidImportTokenException or ExpiredImportTokenException (or
// opens a token the server issued for this key), and never panics.
func FuzzImportToken(f *testing.F) {
	env := newEnv(f, nil)
	out, err := env.client.CreateKey(context.Background(), &awskms.CreateKeyInput{Origin: types.OriginTypeExternal})
	if err != nil {
		f.Fatal(err)
	}
	key := *out.KeyMetadata.KeyId
	p, err := env.client.GetParametersForImport(context.Background(), &awskms.GetParametersForImportInput{KeyId: aws.String(key),
		WrappingAlgorithm: types.AlgorithmSpecRsaesOaepSha1, WrappingKeySpec: types.WrappingKeySpecRsa2048})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(p.ImportToken)
	f.Add([]byte(`{"k":"` + key + `","a":"RSAES_OAEP_SHA_256","s":"RSA_2048","e":1,"w":"AAAA"}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, tok []byte) {
		c := &call{ctx: context.Background(), now: time.Now(), ev: &auditEvent{}}
		priv, _, err := env.srv.openImportToken(c, key, tok)
		if err == nil {
			var got, issued importToken
			json.Unmarshal(tok, &got)
			json.Unmarshal(p.ImportToken, &issued)
			if priv == nil || !bytes.Equal(got.Wrapped, issued.Wrapped) {
				t.Fatalf("a token the server did not issue opened: %q", tok)
			}
			return
		}
		var ae *APIError
		if !errors.As(err, &ae) || (ae.Code != CodeInvalidImportToken && ae.Code != CodeExpiredImportToken) {
			t.Fatalf("error %v", err)
		}
	})
}

// FuzzUnwrapKeyMaterial: whatever EncryptedKeyMaterial a caller sends
// under an RSA_AES_KEY_WRAP or RSAES_OAEP token, unwrapKeyMaterial answers
// the material or InvalidCiphertextException with one message per
// algorithm (no oracle for which step failed), and never panics.
func FuzzUnwrapKeyMaterial(f *testing.F) {
	der, err := os.ReadFile(filepath.Join("keyspec", "testdata", "bench-RSA_2048.der"))
	if err != nil {
		f.Fatal(err)
	}
	pk, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		f.Fatal(err)
	}
	priv := pk.(*rsa.PrivateKey)
	algs := []string{"RSA_AES_KEY_WRAP_SHA_256", "RSA_AES_KEY_WRAP_SHA_1", "RSAES_OAEP_SHA_256", "RSAES_OAEP_SHA_1"}
	aesKey := bytes.Repeat([]byte{9}, 32)
	ek, _ := rsa.EncryptOAEP(sha256.New(), rand.Reader, &priv.PublicKey, aesKey, nil)
	wm, _ := keywrap.Wrap(aesKey, bytes.Repeat([]byte{1}, 32))
	f.Add(byte(0), append(ek, wm...))
	direct, _ := rsa.EncryptOAEP(sha256.New(), rand.Reader, &priv.PublicKey, bytes.Repeat([]byte{1}, 32), nil)
	f.Add(byte(2), direct)
	f.Add(byte(1), make([]byte, 256+40))
	f.Add(byte(0), []byte{0})
	msgs := map[string]string{}
	f.Fuzz(func(t *testing.T, which byte, enc []byte) {
		alg := algs[int(which)%len(algs)]
		raw, err := unwrapKeyMaterial(priv, alg, enc)
		if err == nil {
			if len(raw) == 0 {
				t.Fatal("empty material without an error")
			}
			return
		}
		var ae *APIError
		if !errors.As(err, &ae) || ae.Code != CodeInvalidCiphertext {
			t.Fatalf("error %v", err)
		}
		if m, ok := msgs[alg]; ok && m != ae.Message {
			t.Fatalf("two messages for %s: %q and %q", alg, m, ae.Message)
		}
		msgs[alg] = ae.Message
	})
}
