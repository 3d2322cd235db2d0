// SPDX-License-Identifier: Apache-2.0

package agent

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
)

// ErrNoSignature is returned when a Sign response carries no signature or
// names another algorithm than the request. (A response naming a key
// outside Config.KMSAccount is a [KeyAccountError].)
var ErrNoSignature = errors.New("agent: KMS Sign response lacks the signature asked for")

// Signature is the result of [Client.Sign].
type Signature struct {
	KeyID            string
	SigningAlgorithm string
	Signature        []byte
}

// Sign calls KMS Sign with in's fields through the client's transport and
// credentials: a pass-through, for keys whose policy admits the enclave.
//
// KMS has no Recipient on Sign, so no attestation condition can hold for
// it: the key policy must gate Sign by the credentials the enclave alone
// holds, narrowed by kms:SigningAlgorithm, kms:RequestAlias, aws:SourceIp
// and aws:SecureTransport (docs/key-policies.md, "Gating Sign for an
// enclave"). The signature is not secret, so nothing is sealed to the
// enclave; over plain HTTP the parent can replace it, so verify it with
// the key's public key where that matters.
func (c *Client) Sign(ctx context.Context, in *kms.SignInput) (*Signature, error) {
	if in == nil || in.KeyId == nil || len(in.Message) == 0 || in.SigningAlgorithm == "" {
		return nil, fmt.Errorf("agent: Sign: KeyId, Message and SigningAlgorithm are required")
	}
	ctx, cancel := c.ctx(ctx)
	defer cancel()
	out, err := c.kms.Sign(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("agent: Sign: %w", err)
	}
	// The key first: with Config.KMSAccount, a signature by a key outside
	// it (the parent supplies the credentials, so an alias resolves in an
	// account of its choosing) is one the parent could make at will.
	if err := c.checkKeyAccount("Sign", in.KeyId, out.KeyId); err != nil {
		return nil, err
	}
	if len(out.Signature) == 0 || out.SigningAlgorithm != in.SigningAlgorithm {
		return nil, fmt.Errorf("agent: Sign: %w", ErrNoSignature)
	}
	return &Signature{KeyID: aws.ToString(out.KeyId), SigningAlgorithm: string(out.SigningAlgorithm), Signature: out.Signature}, nil
}
