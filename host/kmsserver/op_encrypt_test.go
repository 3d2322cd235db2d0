// SPDX-License-Identifier: Apache-2.0

package kmsserver

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/smithy-go"
)

// TestDecryptKeyIdNotProbedBeforeAuthorization: Decrypt's KeyId (and
// ReEncrypt's SourceKeyId) is compared with the ciphertext's key only once
// the caller is authorized for that key. A caller without permission gets
// the same AccessDeniedException whatever the KeyId names: the
// ciphertext's key, another key, an alias of either, an alias or key that
// does not exist. Otherwise NotFoundException against IncorrectKeyException
// would tell it which aliases exist and which key each names.
func TestDecryptKeyIdNotProbedBeforeAuthorization(t *testing.T) {
	const nobodyAKID, nobodySecret = "AKIANOPERMISSION0001", "no-permission-secret"
	env := newEnv(t, func(c *Config) {
		c.AccessKeys[nobodyAKID] = AccessKey{Secret: nobodySecret, PrincipalARN: "arn:aws:iam::" + testAccount + ":user/nobody",
			Policy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:ListKeys","Resource":"*"}]}`}
	})
	ctx := context.Background()
	x, y := env.createKey(t), env.createKey(t)
	for name, target := range map[string]string{"alias/x": x, "alias/y": y} {
		if _, err := env.client.CreateAlias(ctx, &awskms.CreateAliasInput{AliasName: aws.String(name), TargetKeyId: aws.String(target)}); err != nil {
			t.Fatal(err)
		}
	}
	blob := env.encrypt(t, x, []byte("secret"), nil)
	keyIDs := []string{"", x, y, env.srv.keyARN(x), env.srv.keyARN(y), "alias/x", "alias/y", "alias/none",
		env.srv.aliasARN("alias/y"), env.srv.aliasARN("alias/none"), "00000000-0000-0000-0000-000000000001"}
	for _, who := range []struct{ name, akid, secret string }{
		{"same account, no permission", nobodyAKID, nobodySecret},
		{"another account", "AKIAOTHERPRINCIPAL01", "other-secret"},
	} {
		c := env.clientFor(who.akid, who.secret)
		var first string
		for _, id := range keyIDs {
			var keyID *string
			if id != "" {
				keyID = aws.String(id)
			}
			_, err := c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: blob, KeyId: keyID})
			ae := wantCodeNamed(t, who.name+": Decrypt KeyId "+id, err, CodeAccessDenied)
			if first == "" {
				first = ae
			} else if ae != "" && ae != first {
				t.Errorf("%s: Decrypt KeyId %q: message %q differs from %q", who.name, id, ae, first)
			}
			_, err = c.ReEncrypt(ctx, &awskms.ReEncryptInput{CiphertextBlob: blob, SourceKeyId: keyID, DestinationKeyId: aws.String(y)})
			wantCodeNamed(t, who.name+": ReEncrypt SourceKeyId "+id, err, CodeAccessDenied)
		}
	}
	// The authorized caller still learns the KeyId is wrong.
	for _, id := range []string{y, "alias/y"} {
		_, err := env.client.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: blob, KeyId: aws.String(id)})
		wantCode(t, err, CodeIncorrectKey)
		_, err = env.client.ReEncrypt(ctx, &awskms.ReEncryptInput{CiphertextBlob: blob, SourceKeyId: aws.String(id), DestinationKeyId: aws.String(y)})
		wantCode(t, err, CodeIncorrectKey)
	}
	_, err := env.client.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: blob, KeyId: aws.String("alias/none")})
	wantCode(t, err, CodeNotFound)
	for _, id := range []string{x, "alias/x", env.srv.aliasARN("alias/x")} {
		if _, err := env.client.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: blob, KeyId: aws.String(id)}); err != nil {
			t.Errorf("Decrypt with KeyId %s, the ciphertext's key: %v", id, err)
		}
	}
}

// wantCodeNamed reports (without stopping the test) an err that is not a
// KMS API error with code; it returns the error's message.
func wantCodeNamed(t *testing.T, name string, err error, code string) string {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != code {
		t.Errorf("%s: error %v, want %s", name, err, code)
		return ""
	}
	return ae.ErrorMessage()
}
