// SPDX-License-Identifier: Apache-2.0

package agent

import (
	"encoding/json"
	"errors"
)

// ErrKeyIDRequired is wrapped by every [KeyIDRequiredError].
var ErrKeyIDRequired = errors.New("agent: a request that opens a stored ciphertext must name its key")

// KeyIDRequiredError is returned by [Client.Decrypt] for a request without
// KeyId, and answered (ValidationException) by the local KMS endpoint to a
// Decrypt without KeyId or a ReEncrypt without SourceKeyId.
//
// The enclave stores its CiphertextBlob outside (S3, the parent's disk),
// where the parent instance can replace it. Without a KeyId, KMS decrypts
// whatever key the blob names: the parent, with the credentials it hands
// the enclave, calls GenerateDataKey on another key of the account that
// those credentials may use without attestation, stores that blob instead,
// and the enclave's Decrypt returns a data key the parent knows (its KeyId
// is in the account, so [Config.KMSAccount] passes it). With the KeyId
// named, KMS refuses a blob under any other key (IncorrectKeyException).
// ReEncrypt without SourceKeyId would launder such a blob into one under
// the enclave's own key. There is no opt-out: AWS recommends naming the key
// on every Decrypt, and an application that uses several keys knows which
// one each of its blobs came from.
//
// Name the key by its key ARN, taken from the enclave's image or
// configuration, never stored beside the blob (the parent would swap both).
// An alias is only as fixed as the permission to move it: whoever may call
// kms:UpdateAlias on it (the parent's role, if its policy allows) can point
// it at a key the parent knows.
type KeyIDRequiredError struct {
	// Op is the operation (Decrypt, ReEncrypt).
	Op string
	// Field is the request's field that must name the key: KeyId, or
	// SourceKeyId for ReEncrypt.
	Field string
}

func (e *KeyIDRequiredError) Error() string {
	return "agent: " + e.Op + " without " + e.Field + ": refused: the parent instance can replace a stored CiphertextBlob " +
		"with one under another key it can use, whose plaintext it knows; set " + e.Field +
		" to the key ARN that encrypted the blob (from the enclave's image or configuration, not stored beside the blob)"
}

// Unwrap returns [ErrKeyIDRequired].
func (e *KeyIDRequiredError) Unwrap() error { return ErrKeyIDRequired }

// storedCiphertextOps are the operations that open a ciphertext the caller
// stored, with the request field that must name its key.
var storedCiphertextOps = map[string]string{
	"Decrypt":   "KeyId",
	"ReEncrypt": "SourceKeyId",
}

// requireKeyID returns a [KeyIDRequiredError] for an operation of
// storedCiphertextOps whose request (its members, fields) does not name
// the key in a non-empty string member spelled exactly as KMS spells it
// (a "keyid" may be ignored by the key service).
func requireKeyID(op string, fields map[string]json.RawMessage) error {
	f, ok := storedCiphertextOps[op]
	if !ok {
		return nil
	}
	var id string
	if v, ok := fields[f]; !ok || json.Unmarshal(v, &id) != nil || id == "" {
		return &KeyIDRequiredError{Op: op, Field: f}
	}
	return nil
}
