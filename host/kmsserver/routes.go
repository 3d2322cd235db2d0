// SPDX-License-Identifier: Apache-2.0

package kmsserver

// The route table: every operation the server answers, and the KMS
// operations it knows but does not implement. New operation families get an
// op_<family>.go file and a line here.

import (
	"context"
	"time"
)

func (s *Server) operations() map[string]opFunc {
	return map[string]opFunc{
		"CreateKey":                           s.createKey,
		"DescribeKey":                         s.describeKey,
		"ListKeys":                            s.listKeys,
		"EnableKey":                           s.enableKey,
		"DisableKey":                          s.disableKey,
		"ScheduleKeyDeletion":                 s.scheduleKeyDeletion,
		"CancelKeyDeletion":                   s.cancelKeyDeletion,
		"CreateAlias":                         s.createAlias,
		"DeleteAlias":                         s.deleteAlias,
		"ListAliases":                         s.listAliases,
		"GetKeyPolicy":                        s.getKeyPolicy,
		"PutKeyPolicy":                        s.putKeyPolicy,
		"Encrypt":                             s.encrypt,
		"Decrypt":                             s.decrypt,
		"ReEncrypt":                           s.reEncrypt,
		"GenerateDataKey":                     s.generateDataKey,
		"GenerateDataKeyWithoutPlaintext":     s.generateDataKeyWithoutPlaintext,
		"GenerateDataKeyPair":                 s.generateDataKeyPair,
		"GenerateDataKeyPairWithoutPlaintext": s.generateDataKeyPairWithoutPlaintext,
		"GenerateRandom":                      s.generateRandom,
	}
}

// knownUnsupported are KMS operations this server does not implement; they
// answer UnsupportedOperationException rather than UnknownOperationException.
var knownUnsupported = map[string]bool{
	"ConnectCustomKeyStore": true, "CreateCustomKeyStore": true, "CreateGrant": true,
	"Decapsulate": true, "DeleteCustomKeyStore": true, "DeleteImportedKeyMaterial": true, "DeriveSharedSecret": true,
	"DescribeCustomKeyStores": true, "DisableKeyRotation": true, "DisconnectCustomKeyStore": true,
	"EnableKeyRotation": true, "Encapsulate": true, "GenerateMac": true, "GetKeyLastUsage": true,
	"GetKeyRotationStatus": true, "GetParametersForImport": true, "GetPublicKey": true, "ImportKeyMaterial": true,
	"ListGrants": true, "ListKeyPolicies": true, "ListKeyRotations": true, "ListResourceTags": true,
	"ListRetirableGrants": true, "ReplicateKey": true, "RetireGrant": true, "RevokeGrant": true,
	"RotateKeyOnDemand": true, "Sign": true, "TagResource": true, "UntagResource": true, "UpdateAlias": true,
	"UpdateCustomKeyStore": true, "UpdateKeyDescription": true, "UpdatePrimaryRegion": true, "Verify": true,
	"VerifyMac": true,
}

type opFunc func(c *call, body []byte) (any, error)

// call carries one request through an operation.
type call struct {
	ctx       context.Context
	op        string
	principal string
	now       time.Time
	ev        *auditEvent
}

type keyIDInput struct {
	KeyID       string   `json:"KeyId"`
	GrantTokens []string `json:"GrantTokens"`
}

type empty struct{}

func dryRun(string) error {
	return apiErr(CodeDryRunOperation, "The request would have succeeded, but the DryRun option is set.")
}
