// SPDX-License-Identifier: Apache-2.0

package kmsserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
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
