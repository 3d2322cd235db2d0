// SPDX-License-Identifier: Apache-2.0

package kmsserver

// The route table: every operation the server answers, and the KMS
// operations it knows but does not implement. New operation families get an
// op_<family>.go file and a line here.

import (
	"context"
	"net/netip"
	"time"

	"github.com/enclavekit/enclavekit/host/kmsserver/keystore"
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
		"Sign":                                s.sign,
		"Verify":                              s.verify,
		"GetPublicKey":                        s.getPublicKey,
		"GenerateMac":                         s.generateMac,
		"VerifyMac":                           s.verifyMac,
		"DeriveSharedSecret":                  s.deriveSharedSecret,
		"Encapsulate":                         s.encapsulate,
		"Decapsulate":                         s.decapsulate,
		"TagResource":                         s.tagResource,
		"UntagResource":                       s.untagResource,
		"ListResourceTags":                    s.listResourceTags,
		"UpdateAlias":                         s.updateAlias,
		"UpdateKeyDescription":                s.updateKeyDescription,
		"ListKeyPolicies":                     s.listKeyPolicies,
		"EnableKeyRotation":                   s.enableKeyRotation,
		"DisableKeyRotation":                  s.disableKeyRotation,
		"GetKeyRotationStatus":                s.getKeyRotationStatus,
		"RotateKeyOnDemand":                   s.rotateKeyOnDemand,
		"ListKeyRotations":                    s.listKeyRotations,
		"CreateGrant":                         s.createGrant,
		"ListGrants":                          s.listGrants,
		"ListRetirableGrants":                 s.listRetirableGrants,
		"RetireGrant":                         s.retireGrant,
		"RevokeGrant":                         s.revokeGrant,
		"GetParametersForImport":              s.getParametersForImport,
		"ImportKeyMaterial":                   s.importKeyMaterial,
		"DeleteImportedKeyMaterial":           s.deleteImportedKeyMaterial,
		"GetKeyLastUsage":                     s.getKeyLastUsage,
	}
}

// knownUnsupported are KMS operations this server does not implement; they
// answer UnsupportedOperationException rather than UnknownOperationException.
var knownUnsupported = map[string]bool{
	"ConnectCustomKeyStore": true, "CreateCustomKeyStore": true, "DeleteCustomKeyStore": true,
	"DescribeCustomKeyStores": true, "DisconnectCustomKeyStore": true,
	"ReplicateKey": true, "UpdateCustomKeyStore": true, "UpdatePrimaryRegion": true,
}

type opFunc func(c *call, body []byte) (any, error)

// call carries one request through an operation.
type call struct {
	ctx       context.Context
	op        string
	principal string
	now       time.Time
	ev        *auditEvent
	// cond holds the operation's own condition keys for the key policy
	// (kms:SigningAlgorithm, kms:MessageType, ...), set before authorize.
	cond map[string][]string
	// source and secure are the connection's remote address and whether
	// it is TLS (aws:SourceIp, aws:SecureTransport); requestAlias maps a
	// key ID to the alias the request named it by (kms:RequestAlias).
	source       netip.Addr
	secure       bool
	requestAlias map[string]string
	// grant is the grant that allowed the last authorization, nil when a
	// policy did.
	grant *keystore.Grant
	// pendingImport are the imported keys loadKey found without usable
	// material: PendingImport for this request (keyState).
	pendingImport map[string]bool
	// used are the keys a tracked cryptographic operation was authorized
	// on (two for ReEncrypt), recorded as used if it succeeds (usage.go).
	used  [2]string
	nUsed int
}

type keyIDInput struct {
	KeyID       string   `json:"KeyId"`
	GrantTokens []string `json:"GrantTokens"`
}

type empty struct{}

func dryRun(string) error {
	return apiErr(CodeDryRunOperation, "The request would have succeeded, but the DryRun option is set.")
}
