// SPDX-License-Identifier: Apache-2.0

package main

// derive (DeriveSharedSecret with Recipient) and sign (Sign, a
// pass-through: KMS has no Recipient on Sign).

import (
	"context"
	"encoding/base64"

	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/enclavekit/enclavekit/enclave/agent"
	"github.com/enclavekit/enclavekit/internal/boundedfile"
	"github.com/enclavekit/enclavekit/internal/cli"
)

// maxBlobFile bounds a --NAME-file: a DER public key for derive (KMS
// takes at most 8192 bytes) or a message to sign (at most 4096 bytes), so
// 64 KiB is a mistaken path.
const maxBlobFile = 64 * boundedfile.KiB

// blobFlag reads the value of exactly one of --NAME BASE64 and
// --NAME-file FILE.
func blobFlag(cmd, name, b64v, file string) ([]byte, error) {
	if (b64v == "") == (file == "") {
		return nil, usagef("%s: give exactly one of --%s BASE64 and --%s-file FILE", cmd, name, name)
	}
	if b64v != "" {
		b, err := base64.StdEncoding.DecodeString(b64v)
		if err != nil || len(b) == 0 {
			return nil, usagef("%s: --%s: not base64", cmd, name)
		}
		return b, nil
	}
	b, err := boundedfile.Read(file, maxBlobFile)
	if err != nil {
		return nil, cli.Usagef("%s: --%s-file: %v", cmd, name, err)
	}
	if len(b) == 0 {
		return nil, usagef("%s: --%s-file %s is empty", cmd, name, file)
	}
	return b, nil
}

func (a *app) derive(args []string) error {
	fs := a.flags("derive")
	keyID := fs.String("key-id", "", "")
	pub := fs.String("public-key", "", "")
	pubFile := fs.String("public-key-file", "", "")
	alg := fs.String("key-agreement-algorithm", "ECDH", "")
	var o outputFlags
	o.register(fs)
	if err := a.noArgs(fs, args); err != nil {
		return err
	}
	if *keyID == "" {
		return usagef("derive: --key-id is required")
	}
	peer, err := blobFlag("derive", "public-key", *pub, *pubFile)
	if err != nil {
		return err
	}
	if *alg != "ECDH" {
		return usagef("derive: --key-agreement-algorithm %q: want ECDH", *alg)
	}
	if err := o.check("derive"); err != nil {
		return err
	}
	if err := a.checkSecretStdout("derive", "the SharedSecret", &o); err != nil {
		return err
	}
	in := &kms.DeriveSharedSecretInput{KeyId: keyID, PublicKey: peer, KeyAgreementAlgorithm: types.KeyAgreementAlgorithmSpec(*alg)}
	return a.withClient(func(ctx context.Context, c *agent.Client) error {
		secret, err := c.DeriveSharedSecret(ctx, in)
		if err != nil {
			return err
		}
		defer clear(secret)
		return a.emit(&o, map[string]string{"KeyId": *keyID, "KeyAgreementAlgorithm": *alg, "SharedSecret": b64(secret)}, secret)
	})
}

func (a *app) sign(args []string) error {
	fs := a.flags("sign")
	keyID := fs.String("key-id", "", "")
	msg := fs.String("message", "", "")
	msgFile := fs.String("message-file", "", "")
	alg := fs.String("signing-algorithm", "", "")
	msgType := fs.String("message-type", "RAW", "")
	var o outputFlags
	o.register(fs)
	if err := a.noArgs(fs, args); err != nil {
		return err
	}
	if *keyID == "" || *alg == "" {
		return usagef("sign: --key-id and --signing-algorithm are required")
	}
	m, err := blobFlag("sign", "message", *msg, *msgFile)
	if err != nil {
		return err
	}
	if *msgType != "RAW" && *msgType != "DIGEST" {
		return usagef("sign: --message-type %q: want RAW or DIGEST", *msgType)
	}
	if len(m) > 4096 {
		return usagef("sign: the message is %d bytes; KMS signs at most 4096 (sign a digest with --message-type DIGEST)", len(m))
	}
	if err := o.check("sign"); err != nil {
		return err
	}
	in := &kms.SignInput{KeyId: keyID, Message: m, SigningAlgorithm: types.SigningAlgorithmSpec(*alg), MessageType: types.MessageType(*msgType)}
	return a.withClient(func(ctx context.Context, c *agent.Client) error {
		s, err := c.Sign(ctx, in)
		if err != nil {
			return err
		}
		return a.emit(&o, map[string]string{"KeyId": s.KeyID, "SigningAlgorithm": s.SigningAlgorithm, "Signature": b64(s.Signature)}, s.Signature)
	})
}
