// SPDX-License-Identifier: Apache-2.0

package kmsserver

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

func sdkTags(kv ...string) []types.Tag {
	var out []types.Tag
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, types.Tag{TagKey: aws.String(kv[i]), TagValue: aws.String(kv[i+1])})
	}
	return out
}

func tagMap(tags []types.Tag) map[string]string {
	m := map[string]string{}
	for _, t := range tags {
		m[*t.TagKey] = *t.TagValue
	}
	return m
}

// TestTags: Tags on CreateKey, TagResource (replacing a value),
// UntagResource (an absent key ignored), ListResourceTags paged, and the
// error shapes of bad tags.
func TestTags(t *testing.T) {
	env := newEnv(t, nil)
	ctx := context.Background()
	c := env.client
	ck, err := c.CreateKey(ctx, &awskms.CreateKeyInput{Tags: sdkTags("team", "crypto", "env", "dev")})
	if err != nil {
		t.Fatal(err)
	}
	id := *ck.KeyMetadata.KeyId
	lt, err := c.ListResourceTags(ctx, &awskms.ListResourceTagsInput{KeyId: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	if got := tagMap(lt.Tags); len(got) != 2 || got["team"] != "crypto" || got["env"] != "dev" || lt.Truncated {
		t.Fatalf("tags after CreateKey: %v truncated=%v", got, lt.Truncated)
	}
	if _, err := c.TagResource(ctx, &awskms.TagResourceInput{KeyId: aws.String(id), Tags: sdkTags("env", "prod", "cost-center", "")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UntagResource(ctx, &awskms.UntagResourceInput{KeyId: aws.String(id), TagKeys: []string{"team", "absent"}}); err != nil {
		t.Fatal(err)
	}
	lt, err = c.ListResourceTags(ctx, &awskms.ListResourceTagsInput{KeyId: aws.String("arn:aws:kms:us-east-1:" + testAccount + ":key/" + id)})
	if err != nil {
		t.Fatal(err)
	}
	if got := tagMap(lt.Tags); len(got) != 2 || got["env"] != "prod" || got["cost-center"] != "" {
		t.Fatalf("tags after TagResource/UntagResource: %v", got)
	}

	// Errors.
	for _, tc := range []struct {
		name string
		tags []types.Tag
		code string
	}{
		{"reserved prefix", sdkTags("aws:owner", "x"), CodeTag},
		{"reserved prefix, upper case", sdkTags("AWS:owner", "x"), CodeTag},
		{"duplicate key", sdkTags("a", "1", "a", "2"), CodeTag},
		{"bad characters", sdkTags("a{b}", "1"), CodeTag},
		{"empty key", sdkTags("", "1"), CodeValidation},
		{"key too long", sdkTags(strings.Repeat("k", 129), "1"), CodeValidation},
		{"value too long", sdkTags("k", strings.Repeat("v", 257)), CodeValidation},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.TagResource(ctx, &awskms.TagResourceInput{KeyId: aws.String(id), Tags: tc.tags})
			wantCode(t, err, tc.code)
			_, err = c.CreateKey(ctx, &awskms.CreateKeyInput{Tags: tc.tags})
			wantCode(t, err, tc.code)
		})
	}
	// Members the SDK requires, sent without it.
	if st, typ, _ := signedPost(t, env, "TagResource", []byte(`{"KeyId":"`+id+`"}`), time.Now(), nil); st != 400 || typ != CodeValidation {
		t.Fatalf("TagResource without Tags: %d %s", st, typ)
	}
	if st, typ, _ := signedPost(t, env, "UntagResource", []byte(`{"KeyId":"`+id+`"}`), time.Now(), nil); st != 400 || typ != CodeValidation {
		t.Fatalf("UntagResource without TagKeys: %d %s", st, typ)
	}
	_, err = c.TagResource(ctx, &awskms.TagResourceInput{KeyId: aws.String("00000000-0000-4000-8000-000000000000"), Tags: sdkTags("a", "b")})
	wantCode(t, err, CodeNotFound)
	_, err = c.ListResourceTags(ctx, &awskms.ListResourceTagsInput{KeyId: aws.String(id), Limit: aws.Int32(51)})
	wantCode(t, err, CodeValidation)
	_, err = c.ListResourceTags(ctx, &awskms.ListResourceTagsInput{KeyId: aws.String(id), Marker: aws.String("not-a-marker")})
	wantCode(t, err, CodeInvalidMarker)

	// The 50-tag quota: a request that would exceed it changes nothing.
	var many []string
	for i := range 48 {
		many = append(many, fmt.Sprintf("k%02d", i), "v")
	}
	if _, err := c.TagResource(ctx, &awskms.TagResourceInput{KeyId: aws.String(id), Tags: sdkTags(many...)}); err != nil {
		t.Fatal(err)
	}
	_, err = c.TagResource(ctx, &awskms.TagResourceInput{KeyId: aws.String(id), Tags: sdkTags("x", "1")})
	wantCode(t, err, CodeLimitExceeded)
	// Replacing a value at the quota is fine.
	if _, err := c.TagResource(ctx, &awskms.TagResourceInput{KeyId: aws.String(id), Tags: sdkTags("k00", "w")}); err != nil {
		t.Fatal(err)
	}

	// Paging: 50 tags in pages of 7 with the SDK's paginator.
	var all []types.Tag
	pages := 0
	p := awskms.NewListResourceTagsPaginator(c, &awskms.ListResourceTagsInput{KeyId: aws.String(id), Limit: aws.Int32(7)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		all = append(all, out.Tags...)
	}
	if len(all) != 50 || pages != 8 || tagMap(all)["k00"] != "w" {
		t.Fatalf("paged %d tags in %d pages", len(all), pages)
	}

	// Pending deletion: tags are listed but not changed.
	if _, err := c.ScheduleKeyDeletion(ctx, &awskms.ScheduleKeyDeletionInput{KeyId: aws.String(id), PendingWindowInDays: aws.Int32(7)}); err != nil {
		t.Fatal(err)
	}
	_, err = c.TagResource(ctx, &awskms.TagResourceInput{KeyId: aws.String(id), Tags: sdkTags("k00", "z")})
	wantCode(t, err, CodeInvalidState)
	_, err = c.UntagResource(ctx, &awskms.UntagResourceInput{KeyId: aws.String(id), TagKeys: []string{"k00"}})
	wantCode(t, err, CodeInvalidState)
	if _, err := c.ListResourceTags(ctx, &awskms.ListResourceTagsInput{KeyId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}

	// Another account's principal may not read or change the tags.
	other := env.clientFor("AKIAOTHERPRINCIPAL01", "other-secret")
	id2 := env.createKey(t)
	_, err = other.ListResourceTags(ctx, &awskms.ListResourceTagsInput{KeyId: aws.String(id2)})
	wantCode(t, err, CodeAccessDenied)
	_, err = other.TagResource(ctx, &awskms.TagResourceInput{KeyId: aws.String(id2), Tags: sdkTags("a", "b")})
	wantCode(t, err, CodeAccessDenied)
}

// TestUpdateKeyDescriptionAndListKeyPolicies: the description changes and
// shows in DescribeKey; the one policy name is "default".
func TestUpdateKeyDescriptionAndListKeyPolicies(t *testing.T) {
	env := newEnv(t, nil)
	ctx := context.Background()
	c := env.client
	id := env.createKey(t)
	if _, err := c.UpdateKeyDescription(ctx, &awskms.UpdateKeyDescriptionInput{KeyId: aws.String(id), Description: aws.String("new \u00e9")}); err != nil {
		t.Fatal(err)
	}
	dk, err := c.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String(id)})
	if err != nil || *dk.KeyMetadata.Description != "new \u00e9" {
		t.Fatalf("DescribeKey after UpdateKeyDescription: %v", err)
	}
	_, err = c.UpdateKeyDescription(ctx, &awskms.UpdateKeyDescriptionInput{KeyId: aws.String(id), Description: aws.String(strings.Repeat("d", 8193))})
	wantCode(t, err, CodeValidation)
	if st, typ, _ := signedPost(t, env, "UpdateKeyDescription", []byte(`{"KeyId":"`+id+`"}`), time.Now(), nil); st != 400 || typ != CodeValidation {
		t.Fatalf("UpdateKeyDescription without Description: %d %s", st, typ)
	}
	// An empty description is allowed.
	if _, err := c.UpdateKeyDescription(ctx, &awskms.UpdateKeyDescriptionInput{KeyId: aws.String(id), Description: aws.String("")}); err != nil {
		t.Fatal(err)
	}

	lp, err := c.ListKeyPolicies(ctx, &awskms.ListKeyPoliciesInput{KeyId: aws.String(id)})
	if err != nil || len(lp.PolicyNames) != 1 || lp.PolicyNames[0] != "default" || lp.Truncated {
		t.Fatalf("ListKeyPolicies: %+v, %v", lp, err)
	}
	_, err = c.ListKeyPolicies(ctx, &awskms.ListKeyPoliciesInput{KeyId: aws.String(id), Limit: aws.Int32(0)})
	wantCode(t, err, CodeValidation)
	_, err = c.ListKeyPolicies(ctx, &awskms.ListKeyPoliciesInput{KeyId: aws.String(id), Marker: aws.String("x")})
	wantCode(t, err, CodeInvalidMarker)

	if _, err := c.ScheduleKeyDeletion(ctx, &awskms.ScheduleKeyDeletionInput{KeyId: aws.String(id), PendingWindowInDays: aws.Int32(7)}); err != nil {
		t.Fatal(err)
	}
	_, err = c.UpdateKeyDescription(ctx, &awskms.UpdateKeyDescriptionInput{KeyId: aws.String(id), Description: aws.String("x")})
	wantCode(t, err, CodeInvalidState)
}

// TestUpdateAlias: the alias moves to the new key at once; ListAliases
// shows the update date; keys of another type, keys pending deletion,
// aliases that do not exist and callers without permission on either key
// are refused with AWS's errors, and nothing changes.
func TestUpdateAlias(t *testing.T) {
	env := newEnv(t, nil)
	ctx := context.Background()
	c := env.client
	k1, k2 := env.createKey(t), env.createKey(t)
	if _, err := c.CreateAlias(ctx, &awskms.CreateAliasInput{AliasName: aws.String("alias/app"), TargetKeyId: aws.String(k1)}); err != nil {
		t.Fatal(err)
	}
	blob1 := env.encrypt(t, "alias/app", []byte("under k1"), nil)
	if _, err := c.UpdateAlias(ctx, &awskms.UpdateAliasInput{AliasName: aws.String("alias/app"), TargetKeyId: aws.String(k2)}); err != nil {
		t.Fatal(err)
	}
	dk, err := c.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String("alias/app")})
	if err != nil || *dk.KeyMetadata.KeyId != k2 {
		t.Fatalf("alias/app after UpdateAlias: %v", err)
	}
	if pt := env.decrypt(t, blob1, nil); string(pt) != "under k1" {
		t.Fatal("a blob of the old target no longer decrypts")
	}
	la, err := c.ListAliases(ctx, &awskms.ListAliasesInput{KeyId: aws.String(k2)})
	if err != nil || len(la.Aliases) != 1 || la.Aliases[0].LastUpdatedDate == nil || la.Aliases[0].LastUpdatedDate.Before(*la.Aliases[0].CreationDate) {
		t.Fatalf("ListAliases after UpdateAlias: %+v, %v", la, err)
	}

	hmacKey, err := c.CreateKey(ctx, &awskms.CreateKeyInput{KeySpec: types.KeySpecHmac256, KeyUsage: types.KeyUsageTypeGenerateVerifyMac})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.UpdateAlias(ctx, &awskms.UpdateAliasInput{AliasName: aws.String("alias/app"), TargetKeyId: hmacKey.KeyMetadata.KeyId})
	wantCode(t, err, CodeValidation)
	_, err = c.UpdateAlias(ctx, &awskms.UpdateAliasInput{AliasName: aws.String("alias/missing"), TargetKeyId: aws.String(k1)})
	wantCode(t, err, CodeNotFound)
	_, err = c.UpdateAlias(ctx, &awskms.UpdateAliasInput{AliasName: aws.String("alias/app"), TargetKeyId: aws.String("00000000-0000-4000-8000-000000000000")})
	wantCode(t, err, CodeNotFound)
	_, err = c.UpdateAlias(ctx, &awskms.UpdateAliasInput{AliasName: aws.String("alias/app"), TargetKeyId: aws.String("alias/other")})
	wantCode(t, err, CodeValidation)
	_, err = c.UpdateAlias(ctx, &awskms.UpdateAliasInput{AliasName: aws.String("app"), TargetKeyId: aws.String(k1)})
	wantCode(t, err, CodeInvalidAliasName)
	k3 := env.createKey(t)
	if _, err := c.ScheduleKeyDeletion(ctx, &awskms.ScheduleKeyDeletionInput{KeyId: aws.String(k3), PendingWindowInDays: aws.Int32(7)}); err != nil {
		t.Fatal(err)
	}
	_, err = c.UpdateAlias(ctx, &awskms.UpdateAliasInput{AliasName: aws.String("alias/app"), TargetKeyId: aws.String(k3)})
	wantCode(t, err, CodeInvalidState)
	// Another account's principal cannot move the alias.
	other := env.clientFor("AKIAOTHERPRINCIPAL01", "other-secret")
	_, err = other.UpdateAlias(ctx, &awskms.UpdateAliasInput{AliasName: aws.String("alias/app"), TargetKeyId: aws.String(k1)})
	wantCode(t, err, CodeAccessDenied)
	if dk, err := c.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String("alias/app")}); err != nil || *dk.KeyMetadata.KeyId != k2 {
		t.Fatalf("a refused UpdateAlias moved the alias: %v", err)
	}
}
