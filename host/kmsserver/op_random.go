// SPDX-License-Identifier: Apache-2.0

package kmsserver

// GenerateRandom.

import "io"

func (s *Server) generateRandom(c *call, body []byte) (any, error) {
	var in generateRandomInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.CustomKeyStoreID != "" {
		return nil, apiErr(CodeUnsupportedOperation, "custom key stores are not supported")
	}
	if in.NumberOfBytes == nil || *in.NumberOfBytes < 1 || *in.NumberOfBytes > 1024 {
		return nil, validation("1 validation error detected: Value at 'numberOfBytes' failed to satisfy constraint: Member must have value between 1 and 1024")
	}
	doc, err := s.checkRecipient(c, in.Recipient)
	if err != nil {
		return nil, err
	}
	// GenerateRandom uses no key: only the identity policy decides (with
	// the document's PCRs as condition keys).
	if err := s.authorizeIdentity(c, "kms:GenerateRandom", "", doc); err != nil {
		return nil, err
	}
	b := make([]byte, *in.NumberOfBytes)
	if _, err := io.ReadFull(s.rand, b); err != nil {
		return nil, err
	}
	if doc != nil {
		ct, err := s.forRecipient(doc, b)
		if err != nil {
			return nil, err
		}
		return generateRandomOutput{CiphertextForRecipient: ct}, nil
	}
	return generateRandomOutput{Plaintext: b}, nil
}

type generateRandomInput struct {
	NumberOfBytes    *int           `json:"NumberOfBytes"`
	CustomKeyStoreID string         `json:"CustomKeyStoreId"`
	Recipient        *recipientInfo `json:"Recipient"`
}

type generateRandomOutput struct {
	Plaintext              []byte `json:"Plaintext,omitempty"`
	CiphertextForRecipient []byte `json:"CiphertextForRecipient,omitempty"`
}
