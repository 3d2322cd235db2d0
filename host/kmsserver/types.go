// SPDX-License-Identifier: Apache-2.0

package kmsserver

// Request and response shapes of the KMS JSON 1.1 protocol. Member names are
// KMS's (see aws-sdk-go-v2/service/kms); blobs are standard base64 in JSON,
// which encoding/json does for []byte. Unknown members are ignored, as newer
// SDKs add optional members.

type recipientInfo struct {
	KeyEncryptionAlgorithm string `json:"KeyEncryptionAlgorithm"`
	AttestationDocument    []byte `json:"AttestationDocument"`
}

type tag struct {
	TagKey   string `json:"TagKey"`
	TagValue string `json:"TagValue"`
}

type createKeyInput struct {
	Policy                         *string `json:"Policy"`
	Description                    string  `json:"Description"`
	KeyUsage                       string  `json:"KeyUsage"`
	CustomerMasterKeySpec          string  `json:"CustomerMasterKeySpec"`
	KeySpec                        string  `json:"KeySpec"`
	Origin                         string  `json:"Origin"`
	CustomKeyStoreID               string  `json:"CustomKeyStoreId"`
	BypassPolicyLockoutSafetyCheck bool    `json:"BypassPolicyLockoutSafetyCheck"`
	Tags                           []tag   `json:"Tags"`
	MultiRegion                    bool    `json:"MultiRegion"`
	XksKeyID                       string  `json:"XksKeyId"`
}

type keyMetadata struct {
	AWSAccountID               string   `json:"AWSAccountId"`
	KeyID                      string   `json:"KeyId"`
	Arn                        string   `json:"Arn"`
	CreationDate               float64  `json:"CreationDate"`
	Enabled                    bool     `json:"Enabled"`
	Description                string   `json:"Description"`
	KeyUsage                   string   `json:"KeyUsage"`
	KeyState                   string   `json:"KeyState"`
	DeletionDate               *float64 `json:"DeletionDate,omitempty"`
	PendingDeletionWindowInDay *int     `json:"PendingDeletionWindowInDays,omitempty"`
	Origin                     string   `json:"Origin"`
	KeyManager                 string   `json:"KeyManager"`
	CustomerMasterKeySpec      string   `json:"CustomerMasterKeySpec"`
	KeySpec                    string   `json:"KeySpec"`
	EncryptionAlgorithms       []string `json:"EncryptionAlgorithms,omitempty"`
	MacAlgorithms              []string `json:"MacAlgorithms,omitempty"`
	MultiRegion                bool     `json:"MultiRegion"`
}

type keyMetadataOutput struct {
	KeyMetadata keyMetadata `json:"KeyMetadata"`
}

type keyIDInput struct {
	KeyID       string   `json:"KeyId"`
	GrantTokens []string `json:"GrantTokens"`
}

type listInput struct {
	Limit  *int   `json:"Limit"`
	Marker string `json:"Marker"`
	KeyID  string `json:"KeyId"` // ListAliases only
}

type keyListEntry struct {
	KeyID  string `json:"KeyId"`
	KeyArn string `json:"KeyArn"`
}

type listKeysOutput struct {
	Keys       []keyListEntry `json:"Keys"`
	NextMarker string         `json:"NextMarker,omitempty"`
	Truncated  bool           `json:"Truncated"`
}

type aliasListEntry struct {
	AliasName       string   `json:"AliasName"`
	AliasArn        string   `json:"AliasArn"`
	TargetKeyID     string   `json:"TargetKeyId,omitempty"`
	CreationDate    *float64 `json:"CreationDate,omitempty"`
	LastUpdatedDate *float64 `json:"LastUpdatedDate,omitempty"`
}

type listAliasesOutput struct {
	Aliases    []aliasListEntry `json:"Aliases"`
	NextMarker string           `json:"NextMarker,omitempty"`
	Truncated  bool             `json:"Truncated"`
}

type scheduleKeyDeletionInput struct {
	KeyID               string `json:"KeyId"`
	PendingWindowInDays *int   `json:"PendingWindowInDays"`
}

type scheduleKeyDeletionOutput struct {
	KeyID               string  `json:"KeyId"`
	DeletionDate        float64 `json:"DeletionDate"`
	KeyState            string  `json:"KeyState"`
	PendingWindowInDays int     `json:"PendingWindowInDays"`
}

type keyIDOutput struct {
	KeyID string `json:"KeyId"`
}

type aliasInput struct {
	AliasName   string `json:"AliasName"`
	TargetKeyID string `json:"TargetKeyId"`
}

type keyPolicyInput struct {
	KeyID                          string  `json:"KeyId"`
	PolicyName                     *string `json:"PolicyName"`
	Policy                         *string `json:"Policy"`
	BypassPolicyLockoutSafetyCheck bool    `json:"BypassPolicyLockoutSafetyCheck"`
}

type getKeyPolicyOutput struct {
	Policy     string `json:"Policy"`
	PolicyName string `json:"PolicyName"`
}

type encryptInput struct {
	KeyID               string            `json:"KeyId"`
	Plaintext           []byte            `json:"Plaintext"`
	EncryptionContext   map[string]string `json:"EncryptionContext"`
	GrantTokens         []string          `json:"GrantTokens"`
	EncryptionAlgorithm string            `json:"EncryptionAlgorithm"`
	DryRun              bool              `json:"DryRun"`
}

type encryptOutput struct {
	CiphertextBlob      []byte `json:"CiphertextBlob"`
	KeyID               string `json:"KeyId"`
	EncryptionAlgorithm string `json:"EncryptionAlgorithm"`
}

type decryptInput struct {
	CiphertextBlob      []byte            `json:"CiphertextBlob"`
	EncryptionContext   map[string]string `json:"EncryptionContext"`
	GrantTokens         []string          `json:"GrantTokens"`
	KeyID               string            `json:"KeyId"`
	EncryptionAlgorithm string            `json:"EncryptionAlgorithm"`
	Recipient           *recipientInfo    `json:"Recipient"`
	DryRun              bool              `json:"DryRun"`
}

type decryptOutput struct {
	KeyID                  string `json:"KeyId"`
	Plaintext              []byte `json:"Plaintext,omitempty"`
	EncryptionAlgorithm    string `json:"EncryptionAlgorithm"`
	CiphertextForRecipient []byte `json:"CiphertextForRecipient,omitempty"`
}

type reEncryptInput struct {
	CiphertextBlob                 []byte            `json:"CiphertextBlob"`
	SourceEncryptionContext        map[string]string `json:"SourceEncryptionContext"`
	SourceKeyID                    string            `json:"SourceKeyId"`
	DestinationKeyID               string            `json:"DestinationKeyId"`
	DestinationEncryptionContext   map[string]string `json:"DestinationEncryptionContext"`
	SourceEncryptionAlgorithm      string            `json:"SourceEncryptionAlgorithm"`
	DestinationEncryptionAlgorithm string            `json:"DestinationEncryptionAlgorithm"`
	GrantTokens                    []string          `json:"GrantTokens"`
	DryRun                         bool              `json:"DryRun"`
}

type reEncryptOutput struct {
	CiphertextBlob                 []byte `json:"CiphertextBlob"`
	SourceKeyID                    string `json:"SourceKeyId"`
	KeyID                          string `json:"KeyId"`
	SourceEncryptionAlgorithm      string `json:"SourceEncryptionAlgorithm"`
	DestinationEncryptionAlgorithm string `json:"DestinationEncryptionAlgorithm"`
}

type generateDataKeyInput struct {
	KeyID             string            `json:"KeyId"`
	EncryptionContext map[string]string `json:"EncryptionContext"`
	NumberOfBytes     *int              `json:"NumberOfBytes"`
	KeySpec           string            `json:"KeySpec"`
	GrantTokens       []string          `json:"GrantTokens"`
	Recipient         *recipientInfo    `json:"Recipient"`
	DryRun            bool              `json:"DryRun"`
}

type generateDataKeyOutput struct {
	CiphertextBlob         []byte `json:"CiphertextBlob"`
	Plaintext              []byte `json:"Plaintext,omitempty"`
	KeyID                  string `json:"KeyId"`
	CiphertextForRecipient []byte `json:"CiphertextForRecipient,omitempty"`
}

type generateDataKeyPairInput struct {
	KeyID             string            `json:"KeyId"`
	EncryptionContext map[string]string `json:"EncryptionContext"`
	KeyPairSpec       string            `json:"KeyPairSpec"`
	GrantTokens       []string          `json:"GrantTokens"`
	Recipient         *recipientInfo    `json:"Recipient"`
	DryRun            bool              `json:"DryRun"`
}

type generateDataKeyPairOutput struct {
	PrivateKeyCiphertextBlob []byte `json:"PrivateKeyCiphertextBlob"`
	PrivateKeyPlaintext      []byte `json:"PrivateKeyPlaintext,omitempty"`
	PublicKey                []byte `json:"PublicKey"`
	KeyID                    string `json:"KeyId"`
	KeyPairSpec              string `json:"KeyPairSpec"`
	CiphertextForRecipient   []byte `json:"CiphertextForRecipient,omitempty"`
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

type empty struct{}
