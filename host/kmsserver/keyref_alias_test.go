// SPDX-License-Identifier: Apache-2.0

package kmsserver

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// TestKeyIDOnlyOperations: where the AWS KMS API Reference says KeyId
// takes "the key ID or key ARN" only, an alias name or alias ARN is refused
// with NotFoundException (as GetKeyLastUsage refused it, and as KMS answers
// an alias there), before the key is looked up or the caller authorized;
// the same request by key ID is not. Before, every operation of the table
// but GetKeyLastUsage resolved the alias and acted on its key (found
// by review). The operations that take aliases (DescribeKey, Encrypt,
// GenerateDataKey*, Sign, ...) are checked elsewhere; RetireGrant's KeyId
// and CreateAlias's and UpdateAlias's TargetKeyId were refused already,
// with ValidationException, and still are.
func TestKeyIDOnlyOperations(t *testing.T) {
	env := newEnv(t, nil)
	fullPolicy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + testPrincipal + `"},"Action":"kms:*","Resource":"*"}]}`
	const grantID = "0123456789012345678901234567890123456789012345678901234567890123"
	for i, tc := range []struct {
		op, body string // body: %[1]s is the key reference
	}{
		{op: "PutKeyPolicy", body: `{"KeyId":%[1]q,"PolicyName":"default","Policy":` + strconv.Quote(fullPolicy) + `}`},
		{op: "GetKeyPolicy", body: `{"KeyId":%[1]q,"PolicyName":"default"}`},
		{op: "ListKeyPolicies", body: `{"KeyId":%[1]q}`},
		{op: "EnableKey", body: `{"KeyId":%[1]q}`},
		{op: "DisableKey", body: `{"KeyId":%[1]q}`},
		{op: "ScheduleKeyDeletion", body: `{"KeyId":%[1]q,"PendingWindowInDays":7}`},
		{op: "CancelKeyDeletion", body: `{"KeyId":%[1]q}`},
		{op: "UpdateKeyDescription", body: `{"KeyId":%[1]q,"Description":"d"}`},
		{op: "TagResource", body: `{"KeyId":%[1]q,"Tags":[{"TagKey":"a","TagValue":"b"}]}`},
		{op: "UntagResource", body: `{"KeyId":%[1]q,"TagKeys":["a"]}`},
		{op: "ListResourceTags", body: `{"KeyId":%[1]q}`},
		{op: "EnableKeyRotation", body: `{"KeyId":%[1]q}`},
		{op: "DisableKeyRotation", body: `{"KeyId":%[1]q}`},
		{op: "GetKeyRotationStatus", body: `{"KeyId":%[1]q}`},
		{op: "RotateKeyOnDemand", body: `{"KeyId":%[1]q}`},
		{op: "ListKeyRotations", body: `{"KeyId":%[1]q}`},
		{op: "CreateGrant", body: `{"KeyId":%[1]q,"GranteePrincipal":"arn:aws:iam::111122223333:role/r","Operations":["Decrypt"]}`},
		{op: "ListGrants", body: `{"KeyId":%[1]q}`},
		{op: "RevokeGrant", body: `{"KeyId":%[1]q,"GrantId":"` + grantID + `"}`},
		{op: "GetParametersForImport", body: `{"KeyId":%[1]q,"WrappingAlgorithm":"RSAES_OAEP_SHA_256","WrappingKeySpec":"RSA_2048"}`},
		{op: "ImportKeyMaterial", body: `{"KeyId":%[1]q,"ImportToken":"AAAA","EncryptedKeyMaterial":"AAAA","ExpirationModel":"KEY_MATERIAL_DOES_NOT_EXPIRE"}`},
		{op: "DeleteImportedKeyMaterial", body: `{"KeyId":%[1]q}`},
		{op: "GetKeyLastUsage", body: `{"KeyId":%[1]q}`},
		{op: "ListAliases", body: `{"KeyId":%[1]q}`},
	} {
		t.Run(tc.op, func(t *testing.T) {
			key := env.createKey(t)
			name := "alias/id-only-" + strconv.Itoa(i)
			env.createAlias(t, name, key)
			want := "Alias names are not supported by " + tc.op + "; specify the key ID or key ARN"
			for _, ref := range []string{name, env.srv.aliasARN(name)} {
				st, typ, body := signedPostAs(t, env, testAKID, testSecret, tc.op, fmt.Appendf(nil, tc.body, ref))
				if st != 400 || typ != CodeNotFound || !strings.Contains(body, want) {
					t.Errorf("%s by %s: %d %s %s, want 400 %s %q", tc.op, ref, st, typ, body, CodeNotFound, want)
				}
			}
			// By key ID the operation runs (or fails for another reason:
			// a key that is not EXTERNAL, a grant that does not exist).
			if _, _, body := signedPostAs(t, env, testAKID, testSecret, tc.op, fmt.Appendf(nil, tc.body, key)); strings.Contains(body, "Alias names are not supported") {
				t.Errorf("%s by key ID: %s", tc.op, body)
			}
		})
	}
}
