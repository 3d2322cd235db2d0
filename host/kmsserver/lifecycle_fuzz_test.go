// SPDX-License-Identifier: Apache-2.0

package kmsserver

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// FuzzLifecycleRequests feeds arbitrary request bodies to the lifecycle
// operations (tags, metadata, UpdateAlias, rotation, grants), with real
// keys, an alias and a grant behind the names of the seeds. Whatever the
// body, the answer is a success or a client error: never a panic, never an
// internal error. (Rotations stop at the on-demand quota, a client error.)
func FuzzLifecycleRequests(f *testing.F) {
	env := newEnv(f, nil)
	ctx := context.Background()
	sym, sym2 := env.createKey(f), env.createKey(f)
	hmac := env.createSpecKey(f, types.KeySpecHmac256, types.KeyUsageTypeGenerateVerifyMac, nil)
	if _, err := env.client.CreateAlias(ctx, &awskms.CreateAliasInput{AliasName: aws.String("alias/fuzz"), TargetKeyId: aws.String(sym)}); err != nil {
		f.Fatal(err)
	}
	cg, err := env.client.CreateGrant(ctx, &awskms.CreateGrantInput{KeyId: aws.String(sym), GranteePrincipal: aws.String(strangerPrincipal),
		RetiringPrincipal: aws.String(testPrincipal), Operations: []types.GrantOperation{types.GrantOperationDecrypt}})
	if err != nil {
		f.Fatal(err)
	}
	ops := []string{"TagResource", "UntagResource", "ListResourceTags", "UpdateAlias", "UpdateKeyDescription", "ListKeyPolicies",
		"EnableKeyRotation", "DisableKeyRotation", "GetKeyRotationStatus", "RotateKeyOnDemand", "ListKeyRotations",
		"CreateGrant", "ListGrants", "ListRetirableGrants", "RetireGrant", "RevokeGrant"}
	seed := func(op int, v map[string]any) {
		b, _ := json.Marshal(v)
		f.Add(byte(op), b)
	}
	for _, k := range []string{sym, hmac, "alias/fuzz"} {
		seed(0, map[string]any{"KeyId": k, "Tags": []map[string]string{{"TagKey": "a", "TagValue": "b"}}})
		seed(1, map[string]any{"KeyId": k, "TagKeys": []string{"a"}})
		seed(2, map[string]any{"KeyId": k, "Limit": 1, "Marker": encodeMarker("a")})
		seed(4, map[string]any{"KeyId": k, "Description": "d"})
		seed(5, map[string]any{"KeyId": k, "Limit": 1})
		seed(6, map[string]any{"KeyId": k, "RotationPeriodInDays": 90})
		seed(7, map[string]any{"KeyId": k})
		seed(8, map[string]any{"KeyId": k})
		seed(9, map[string]any{"KeyId": k})
		seed(10, map[string]any{"KeyId": k, "IncludeKeyMaterial": "ALL_KEY_MATERIAL", "Limit": 2})
		seed(11, map[string]any{"KeyId": k, "GranteePrincipal": strangerPrincipal, "Operations": []string{"Decrypt"},
			"Constraints": map[string]any{"EncryptionContextSubset": map[string]string{"a": "b"}}, "Name": "n"})
		seed(12, map[string]any{"KeyId": k, "GrantId": *cg.GrantId})
		seed(15, map[string]any{"KeyId": k, "GrantId": *cg.GrantId, "DryRun": true})
	}
	seed(3, map[string]any{"AliasName": "alias/fuzz", "TargetKeyId": sym2})
	seed(13, map[string]any{"RetiringPrincipal": testPrincipal, "Limit": 1})
	seed(14, map[string]any{"GrantToken": *cg.GrantToken, "DryRun": true})
	fuzzOperations(f, env, ops)
}

// fuzzOperations runs the fuzz target shared by the operation fuzzers:
// ops[op % len(ops)] called on body, directly through the server's
// operation table as principal testPrincipal. Any error must be an
// [APIError] below 500: anything else would reach the caller as an
// internal error, on input a client chose.
func fuzzOperations(f *testing.F, env *testEnv, ops []string) {
	table := env.srv.operations()
	f.Fuzz(func(t *testing.T, op byte, body []byte) {
		name := ops[int(op)%len(ops)]
		c := &call{ctx: context.Background(), op: name, principal: testPrincipal, now: time.Now(), ev: &auditEvent{}}
		_, err := table[name](c, body)
		if err == nil {
			return
		}
		var ae *APIError
		if !errors.As(err, &ae) {
			t.Fatalf("%s: error %v (%T) is not an API error: it would be an internal error", name, err, err)
		}
		if ae.Status >= 500 {
			t.Fatalf("%s: %d %s: %s", name, ae.Status, ae.Code, ae.Message)
		}
	})
}
