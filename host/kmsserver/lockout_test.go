// SPDX-License-Identifier: Apache-2.0

package kmsserver

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
)

// lockoutPolicy is a key policy that grants the test's principal every KMS
// action, but kms:PutKeyPolicy only under condition (a JSON condition
// block).
func lockoutPolicy(condition string) string {
	return `{"Version":"2012-10-17","Statement":[
	 {"Sid":"AllButPut","Effect":"Allow","Principal":{"AWS":"` + testPrincipal + `"},"NotAction":"kms:PutKeyPolicy","Resource":"*"},
	 {"Sid":"PutByCondition","Effect":"Allow","Principal":{"AWS":"` + testPrincipal + `"},"Action":"kms:PutKeyPolicy","Resource":"*",
	  "Condition":` + condition + `}]}`
}

// TestLockoutCheckSeesTagsAndAliases: the lockout safety check of
// PutKeyPolicy and CreateKey decides the new policy with the context a
// later PutKeyPolicy would have: the key's tags (aws:ResourceTag/<key>; for
// CreateKey the tags it creates the key with) and aliases
// (kms:ResourceAliases). A policy that grants kms:PutKeyPolicy only by
// a tag or alias the key has is accepted without
// BypassPolicyLockoutSafetyCheck; one naming a tag or alias it lacks is
// still refused, and leaves the policy unchanged.
func TestLockoutCheckSeesTagsAndAliases(t *testing.T) {
	env := newEnv(t, nil)
	c := env.client
	ctx := context.Background()
	byTag := func(v string) string { return lockoutPolicy(`{"StringEquals":{"aws:ResourceTag/Team":"` + v + `"}}`) }
	byAlias := func(a string) string {
		return lockoutPolicy(`{"ForAnyValue:StringEquals":{"kms:ResourceAliases":"` + a + `"}}`)
	}

	// CreateKey: the key's tags are those of the request.
	out, err := c.CreateKey(ctx, &awskms.CreateKeyInput{Policy: aws.String(byTag("Ops")), Tags: sdkTags("Team", "Ops")})
	if err != nil {
		t.Fatalf("CreateKey with a policy granting PutKeyPolicy by the key's own tag: %v", err)
	}
	id := *out.KeyMetadata.KeyId
	_, err = c.CreateKey(ctx, &awskms.CreateKeyInput{Policy: aws.String(byTag("Ops")), Tags: sdkTags("Team", "Dev")})
	e := wantCode(t, err, CodeMalformedPolicy)
	if !strings.Contains(e.Message, "will not allow you to update the key policy") {
		t.Errorf("lockout refusal message: %s", e.Message)
	}

	// PutKeyPolicy: the key's stored tags.
	put := func(p string) error {
		_, err := c.PutKeyPolicy(ctx, &awskms.PutKeyPolicyInput{KeyId: aws.String(id), Policy: aws.String(p)})
		return err
	}
	if err := put(byTag("Ops")); err != nil {
		t.Fatalf("PutKeyPolicy granting PutKeyPolicy by the key's tag: %v", err)
	}
	wantCode(t, put(byTag("Dev")), CodeMalformedPolicy)
	got, err := c.GetKeyPolicy(ctx, &awskms.GetKeyPolicyInput{KeyId: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	if *got.Policy != byTag("Ops") {
		t.Fatalf("a refused PutKeyPolicy changed the policy to %s", *got.Policy)
	}

	// kms:ResourceAliases: the key's aliases.
	if _, err := c.CreateAlias(ctx, &awskms.CreateAliasInput{AliasName: aws.String("alias/ops"), TargetKeyId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	wantCode(t, put(byAlias("alias/other")), CodeMalformedPolicy)
	if err := put(byAlias("alias/ops")); err != nil {
		t.Fatalf("PutKeyPolicy granting PutKeyPolicy by the key's alias: %v", err)
	}
	// The policies accepted without the bypass really do let the caller
	// update the policy again (the check decided as the request does).
	if err := put(byTag("Ops")); err != nil {
		t.Fatalf("PutKeyPolicy under the alias-conditioned policy: %v", err)
	}
	if err := put(byTag("Ops")); err != nil {
		t.Fatalf("PutKeyPolicy under the tag-conditioned policy: %v", err)
	}
	// The bypass still accepts a policy the check refuses.
	if _, err := c.PutKeyPolicy(ctx, &awskms.PutKeyPolicyInput{KeyId: aws.String(id), Policy: aws.String(byTag("Dev")),
		BypassPolicyLockoutSafetyCheck: true}); err != nil {
		t.Fatalf("PutKeyPolicy with the bypass: %v", err)
	}
	wantCode(t, put(byTag("Ops")), CodeAccessDenied)
}
