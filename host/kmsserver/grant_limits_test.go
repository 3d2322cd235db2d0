// SPDX-License-Identifier: Apache-2.0

package kmsserver

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/enclavekit/enclavekit/host/kmsserver/keystore"
)

// TestCreateGrantConstraintLimits: AWS's bounds on a grant constraint (at
// most 8 encryption context pairs, at most 384 characters) are enforced
// with ValidationException; a constraint at the bounds is accepted.
func TestCreateGrantConstraintLimits(t *testing.T) {
	ctx := context.Background()
	env := newEnv(t, nil)
	id := env.createKey(t)
	create := func(c *types.GrantConstraints) error {
		_, err := env.client.CreateGrant(ctx, &awskms.CreateGrantInput{KeyId: aws.String(id), GranteePrincipal: aws.String(strangerPrincipal),
			Operations: []types.GrantOperation{types.GrantOperationDecrypt}, Constraints: c})
		return err
	}
	pairs := func(n, valueLen int) map[string]string {
		m := map[string]string{}
		for i := range n {
			m[fmt.Sprint("k", i)] = strings.Repeat("v", valueLen)
		}
		return m
	}
	for _, tc := range []struct {
		name string
		c    *types.GrantConstraints
		want string // message fragment
	}{
		{"9 pairs equals", &types.GrantConstraints{EncryptionContextEquals: pairs(9, 1)}, "at most 8"},
		{"9 pairs subset", &types.GrantConstraints{EncryptionContextSubset: pairs(9, 1)}, "at most 8"},
		{"385 characters", &types.GrantConstraints{EncryptionContextSubset: map[string]string{"k": strings.Repeat("<", 384)}}, "384 characters"},
		{"long across pairs", &types.GrantConstraints{EncryptionContextEquals: pairs(8, 47)}, "384 characters"}, // 8*(2+47) = 392
		{"huge value", &types.GrantConstraints{EncryptionContextSubset: map[string]string{"0": strings.Repeat("<", 60000)}}, "384 characters"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ae := wantCode(t, create(tc.c), CodeValidation)
			if !strings.Contains(ae.Message, tc.want) {
				t.Fatalf("message %q, want it to say %q", ae.Message, tc.want)
			}
		})
	}
	// At the bounds: 8 pairs, 384 characters (8*(2+46)).
	if err := create(&types.GrantConstraints{EncryptionContextEquals: pairs(8, 46)}); err != nil {
		t.Fatalf("8 pairs of 384 characters: %v", err)
	}
	// Characters, not bytes: 383 two-byte characters and a one-letter key.
	if err := create(&types.GrantConstraints{EncryptionContextSubset: map[string]string{"k": strings.Repeat("é", 383)}}); err != nil {
		t.Fatalf("384 characters of 767 bytes: %v", err)
	}
}

// TestGrantsCannotBrickDirStore (attack): a principal of another account
// allowed only kms:CreateGrant on one key grows that key's record with
// grants whose constraints are as large as allowed and expand most in JSON
// ('<' is written \u003c). The record stays within the directory store's
// bounds: every grant reads back after a restart, and the store opens
// (before, ~47 grants with 60 KB values made an 18 MB record, and the next
// OpenDir failed for every key).
func TestGrantsCannotBrickDirStore(t *testing.T) {
	if testBackend != backendDir {
		t.Skip("directory backend only")
	}
	ctx := context.Background()
	env := newEnv(t, nil)
	pol := `{"Version":"2012-10-17","Statement":[
 {"Sid":"Owner","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"},
 {"Sid":"PartnerMayGrant","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:root"},"Action":"kms:CreateGrant","Resource":"*"}]}`
	ck, err := env.client.CreateKey(ctx, &awskms.CreateKeyInput{Policy: aws.String(pol)})
	if err != nil {
		t.Fatal(err)
	}
	id := *ck.KeyMetadata.KeyId
	other := env.createKey(t)
	stranger := env.clientFor(strangerAKID, strangerSecret)
	_, err = stranger.CreateGrant(ctx, &awskms.CreateGrantInput{KeyId: aws.String(id), GranteePrincipal: aws.String(strangerPrincipal),
		Operations:  []types.GrantOperation{types.GrantOperationEncrypt},
		Constraints: &types.GrantConstraints{EncryptionContextSubset: map[string]string{"0": strings.Repeat("<", 60000)}}})
	wantCode(t, err, CodeValidation)
	long := strings.Repeat("<", 384/8-2)
	for i := range maxGrantsPerKey {
		ec := map[string]string{}
		for j := range 8 {
			ec[fmt.Sprintf("%02d", 10*(i%10)+j)] = long
		}
		_, err := stranger.CreateGrant(ctx, &awskms.CreateGrantInput{KeyId: aws.String(id), GranteePrincipal: aws.String(strangerPrincipal),
			Name:       aws.String(fmt.Sprintf("g%03d-%s", i, strings.Repeat("_", maxGrantNameLen-5))),
			Operations: []types.GrantOperation{types.GrantOperationEncrypt}, Constraints: &types.GrantConstraints{EncryptionContextSubset: ec}})
		if err != nil {
			t.Fatalf("grant %d: %v", i, err)
		}
	}
	_, err = stranger.CreateGrant(ctx, &awskms.CreateGrantInput{KeyId: aws.String(id), GranteePrincipal: aws.String(strangerPrincipal),
		Operations: []types.GrantOperation{types.GrantOperationEncrypt}})
	wantCode(t, err, CodeLimitExceeded)
	fi, err := os.Stat(filepath.Join(env.dir, "keys", id+".json"))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("key record with %d grants: %d bytes", maxGrantsPerKey, fi.Size())
	if fi.Size() > keystore.MaxKeyRecordBytes/4 {
		t.Errorf("key record of %d bytes, more than a quarter of the %d a record may have", fi.Size(), keystore.MaxKeyRecordBytes)
	}
	env.ts.Close()
	env.srv.store.(*keystore.Dir).Close()
	d2, err := keystore.OpenDir(env.dir)
	if err != nil {
		t.Fatalf("restart: the store no longer opens (key %s unreachable too): %v", other, err)
	}
	defer d2.Close()
	k, err := d2.GetKey(ctx, id)
	if err != nil || len(k.Grants) != maxGrantsPerKey {
		t.Fatalf("after restart: %v, %d grants", err, len(k.Grants))
	}
}
