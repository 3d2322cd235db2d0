// SPDX-License-Identifier: Apache-2.0

package kmsserver

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/enclavekit/enclavekit/host/kmsserver/keymaterial"
	"github.com/enclavekit/enclavekit/host/kmsserver/keystore"
	"github.com/enclavekit/enclavekit/host/kmsserver/keystore/postgres"
	"github.com/enclavekit/enclavekit/internal/sdkhttp"
)

func blobMaterialID(t testing.TB, blob []byte) string {
	t.Helper()
	mid, err := keymaterial.BlobMaterialID(blob)
	if err != nil {
		t.Fatal(err)
	}
	return mid
}

func currentMaterial(t testing.TB, c *awskms.Client, id string) string {
	t.Helper()
	dk, err := c.DescribeKey(context.Background(), &awskms.DescribeKeyInput{KeyId: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	if dk.KeyMetadata.CurrentKeyMaterialId == nil {
		t.Fatal("DescribeKey without CurrentKeyMaterialId")
	}
	return *dk.KeyMetadata.CurrentKeyMaterialId
}

// TestRotation: rotation status, on-demand rotation, blobs naming their
// material, Decrypt of blobs under every material, ReEncrypt to the
// current material, ListKeyRotations (paged, both IncludeKeyMaterial
// values), and the errors of each operation.
func TestRotation(t *testing.T) {
	env := newEnv(t, nil)
	ctx := context.Background()
	c := env.client
	id := env.createKey(t)
	m0 := currentMaterial(t, c, id)
	if len(m0) != 64 {
		t.Fatalf("CurrentKeyMaterialId %q", m0)
	}
	blob0 := env.encrypt(t, id, []byte("zero"), map[string]string{"n": "0"})
	if blobMaterialID(t, blob0) != m0 {
		t.Fatal("a blob does not name the current material")
	}

	st, err := c.GetKeyRotationStatus(ctx, &awskms.GetKeyRotationStatusInput{KeyId: aws.String(id)})
	if err != nil || st.KeyRotationEnabled || st.RotationPeriodInDays != nil || *st.KeyId != env.srv.keyARN(id) {
		t.Fatalf("GetKeyRotationStatus of a new key: %+v, %v", st, err)
	}
	for _, p := range []int32{89, 2561, 0, -1} {
		_, err := c.EnableKeyRotation(ctx, &awskms.EnableKeyRotationInput{KeyId: aws.String(id), RotationPeriodInDays: aws.Int32(p)})
		wantCode(t, err, CodeValidation)
	}
	before := time.Now()
	if _, err := c.EnableKeyRotation(ctx, &awskms.EnableKeyRotationInput{KeyId: aws.String(id), RotationPeriodInDays: aws.Int32(90)}); err != nil {
		t.Fatal(err)
	}
	st, err = c.GetKeyRotationStatus(ctx, &awskms.GetKeyRotationStatusInput{KeyId: aws.String(id)})
	if err != nil || !st.KeyRotationEnabled || *st.RotationPeriodInDays != 90 ||
		st.NextRotationDate.Before(before.Add(90*24*time.Hour-time.Second)) || st.NextRotationDate.After(time.Now().Add(90*24*time.Hour+time.Second)) {
		t.Fatalf("GetKeyRotationStatus after EnableKeyRotation: %+v, %v", st, err)
	}
	// Default period.
	id2 := env.createKey(t)
	if _, err := c.EnableKeyRotation(ctx, &awskms.EnableKeyRotationInput{KeyId: aws.String(id2)}); err != nil {
		t.Fatal(err)
	}
	if st, err := c.GetKeyRotationStatus(ctx, &awskms.GetKeyRotationStatusInput{KeyId: aws.String(id2)}); err != nil || *st.RotationPeriodInDays != 365 {
		t.Fatalf("default rotation period: %v", err)
	}

	// Rotate on demand: a new current material; old blobs still decrypt.
	ro, err := c.RotateKeyOnDemand(ctx, &awskms.RotateKeyOnDemandInput{KeyId: aws.String(id)})
	if err != nil || *ro.KeyId != env.srv.keyARN(id) {
		t.Fatalf("RotateKeyOnDemand: %v", err)
	}
	m1 := currentMaterial(t, c, id)
	if m1 == m0 {
		t.Fatal("the current material did not change")
	}
	blob1 := env.encrypt(t, id, []byte("one"), nil)
	if blobMaterialID(t, blob1) != m1 {
		t.Fatal("a new blob does not name the new material")
	}
	if pt := env.decrypt(t, blob0, map[string]string{"n": "0"}); string(pt) != "zero" {
		t.Fatal("a blob under the retired material does not decrypt")
	}
	if pt := env.decrypt(t, blob1, nil); string(pt) != "one" {
		t.Fatal("a blob under the new material does not decrypt")
	}
	// A data key under the old material, too.
	if _, err := c.RotateKeyOnDemand(ctx, &awskms.RotateKeyOnDemandInput{KeyId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	m2 := currentMaterial(t, c, id)
	// ReEncrypt moves a blob to the current material.
	re, err := c.ReEncrypt(ctx, &awskms.ReEncryptInput{CiphertextBlob: blob0, SourceEncryptionContext: map[string]string{"n": "0"},
		DestinationKeyId: aws.String(id), DestinationEncryptionContext: map[string]string{"n": "0"}})
	if err != nil {
		t.Fatal(err)
	}
	if blobMaterialID(t, re.CiphertextBlob) != m2 {
		t.Fatal("ReEncrypt did not move the blob to the current material")
	}
	if pt := env.decrypt(t, re.CiphertextBlob, map[string]string{"n": "0"}); string(pt) != "zero" {
		t.Fatal("re-encrypted blob")
	}
	gdk, err := c.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: aws.String(id), KeySpec: types.DataKeySpecAes256})
	if err != nil || blobMaterialID(t, gdk.CiphertextBlob) != m2 {
		t.Fatalf("GenerateDataKey after rotation: %v", err)
	}

	// ListKeyRotations.
	lr, err := c.ListKeyRotations(ctx, &awskms.ListKeyRotationsInput{KeyId: aws.String(id)})
	if err != nil || len(lr.Rotations) != 2 || lr.Truncated {
		t.Fatalf("ListKeyRotations: %+v, %v", lr, err)
	}
	if r := lr.Rotations[0]; *r.KeyMaterialId != m1 || r.RotationType != types.RotationTypeOnDemand || r.KeyMaterialState != "NON_CURRENT" || r.RotationDate == nil {
		t.Fatalf("first rotation: %+v", r)
	}
	if r := lr.Rotations[1]; *r.KeyMaterialId != m2 || r.KeyMaterialState != "CURRENT" {
		t.Fatalf("second rotation: %+v", r)
	}
	var paged []types.RotationsListEntry
	p := awskms.NewListKeyRotationsPaginator(c, &awskms.ListKeyRotationsInput{KeyId: aws.String(id), Limit: aws.Int32(1), IncludeKeyMaterial: types.IncludeKeyMaterialAllKeyMaterial})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		paged = append(paged, out.Rotations...)
	}
	if len(paged) != 3 || *paged[0].KeyMaterialId != m0 || paged[0].RotationDate != nil || *paged[2].KeyMaterialId != m2 {
		t.Fatalf("ListKeyRotations ALL_KEY_MATERIAL paged: %+v", paged)
	}
	_, err = c.ListKeyRotations(ctx, &awskms.ListKeyRotationsInput{KeyId: aws.String(id), Marker: aws.String("bogus")})
	wantCode(t, err, CodeInvalidMarker)
	_, err = c.ListKeyRotations(ctx, &awskms.ListKeyRotationsInput{KeyId: aws.String(id), Limit: aws.Int32(1001)})
	wantCode(t, err, CodeValidation)
	_, err = c.ListKeyRotations(ctx, &awskms.ListKeyRotationsInput{KeyId: aws.String(id), IncludeKeyMaterial: "SOME"})
	wantCode(t, err, CodeValidation)

	// Disable.
	if _, err := c.DisableKeyRotation(ctx, &awskms.DisableKeyRotationInput{KeyId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	if st, err := c.GetKeyRotationStatus(ctx, &awskms.GetKeyRotationStatusInput{KeyId: aws.String(id)}); err != nil || st.KeyRotationEnabled || st.NextRotationDate != nil {
		t.Fatalf("status after DisableKeyRotation: %+v, %v", st, err)
	}

	// Keys that do not rotate.
	hk, err := c.CreateKey(ctx, &awskms.CreateKeyInput{KeySpec: types.KeySpecHmac256, KeyUsage: types.KeyUsageTypeGenerateVerifyMac})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.EnableKeyRotation(ctx, &awskms.EnableKeyRotationInput{KeyId: hk.KeyMetadata.KeyId})
	wantCode(t, err, CodeUnsupportedOperation)
	_, err = c.RotateKeyOnDemand(ctx, &awskms.RotateKeyOnDemandInput{KeyId: hk.KeyMetadata.KeyId})
	wantCode(t, err, CodeUnsupportedOperation)
	if st, err := c.GetKeyRotationStatus(ctx, &awskms.GetKeyRotationStatusInput{KeyId: hk.KeyMetadata.KeyId}); err != nil || st.KeyRotationEnabled {
		t.Fatalf("GetKeyRotationStatus of an HMAC key: %+v, %v", st, err)
	}
	if dk, err := c.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: hk.KeyMetadata.KeyId}); err != nil || dk.KeyMetadata.CurrentKeyMaterialId != nil {
		t.Fatalf("an HMAC key shows a CurrentKeyMaterialId: %v", err)
	}
	_, err = c.RotateKeyOnDemand(ctx, &awskms.RotateKeyOnDemandInput{KeyId: aws.String("00000000-0000-4000-8000-000000000000")})
	wantCode(t, err, CodeNotFound)

	// Key states.
	if _, err := c.DisableKey(ctx, &awskms.DisableKeyInput{KeyId: aws.String(id2)}); err != nil {
		t.Fatal(err)
	}
	_, err = c.RotateKeyOnDemand(ctx, &awskms.RotateKeyOnDemandInput{KeyId: aws.String(id2)})
	wantCode(t, err, CodeDisabled)
	_, err = c.EnableKeyRotation(ctx, &awskms.EnableKeyRotationInput{KeyId: aws.String(id2)})
	wantCode(t, err, CodeDisabled)
	if _, err := c.ScheduleKeyDeletion(ctx, &awskms.ScheduleKeyDeletionInput{KeyId: aws.String(id2), PendingWindowInDays: aws.Int32(7)}); err != nil {
		t.Fatal(err)
	}
	if st, err := c.GetKeyRotationStatus(ctx, &awskms.GetKeyRotationStatusInput{KeyId: aws.String(id2)}); err != nil || st.KeyRotationEnabled {
		t.Fatalf("status of a key pending deletion: %+v, %v", st, err)
	}
	_, err = c.RotateKeyOnDemand(ctx, &awskms.RotateKeyOnDemandInput{KeyId: aws.String(id2)})
	wantCode(t, err, CodeInvalidState)
	if _, err := c.CancelKeyDeletion(ctx, &awskms.CancelKeyDeletionInput{KeyId: aws.String(id2)}); err != nil {
		t.Fatal(err)
	}

	// Another account may not rotate the key, even when the key policy
	// allows it: rotation is not a cross-account operation in AWS.
	other := env.clientFor("AKIAOTHERPRINCIPAL01", "other-secret")
	_, err = other.RotateKeyOnDemand(ctx, &awskms.RotateKeyOnDemandInput{KeyId: aws.String(id)})
	wantCode(t, err, CodeAccessDenied)
	open := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:*","Resource":"*"}]}`
	ok, err := c.CreateKey(ctx, &awskms.CreateKeyInput{Policy: aws.String(open), BypassPolicyLockoutSafetyCheck: true})
	if err != nil {
		t.Fatal(err)
	}
	_, err = other.RotateKeyOnDemand(ctx, &awskms.RotateKeyOnDemandInput{KeyId: ok.KeyMetadata.Arn})
	wantCode(t, err, CodeAccessDenied)
	_, err = other.TagResource(ctx, &awskms.TagResourceInput{KeyId: ok.KeyMetadata.Arn, Tags: sdkTags("a", "b")})
	wantCode(t, err, CodeAccessDenied)
	if _, err := other.GetKeyRotationStatus(ctx, &awskms.GetKeyRotationStatusInput{KeyId: ok.KeyMetadata.Arn}); err != nil {
		t.Fatalf("GetKeyRotationStatus is allowed cross-account: %v", err)
	}
	if currentMaterial(t, c, id) != m2 {
		t.Fatal("a refused rotation changed the material")
	}
}

// TestRotateOnDemandQuota: the 26th on-demand rotation of a key is
// LimitExceededException and changes nothing; every earlier blob still
// decrypts.
func TestRotateOnDemandQuota(t *testing.T) {
	env := newEnv(t, nil)
	ctx := context.Background()
	id := env.createKey(t)
	var blobs [][]byte
	for i := range maxOnDemandRotations {
		blobs = append(blobs, env.encrypt(t, id, []byte{byte(i)}, nil))
		if _, err := env.client.RotateKeyOnDemand(ctx, &awskms.RotateKeyOnDemandInput{KeyId: aws.String(id)}); err != nil {
			t.Fatalf("rotation %d: %v", i+1, err)
		}
	}
	cur := currentMaterial(t, env.client, id)
	_, err := env.client.RotateKeyOnDemand(ctx, &awskms.RotateKeyOnDemandInput{KeyId: aws.String(id)})
	wantCode(t, err, CodeLimitExceeded)
	if currentMaterial(t, env.client, id) != cur {
		t.Fatal("a refused rotation changed the material")
	}
	for i, b := range blobs {
		if pt := env.decrypt(t, b, nil); !bytes.Equal(pt, []byte{byte(i)}) {
			t.Fatalf("blob %d", i)
		}
	}
}

// TestAutomaticRotation: the sweep rotates enabled keys whose rotation is
// due, once (two sweeps at the same time, on two replicas with
// PostgreSQL, rotate once); it leaves disabled keys and keys not due
// alone; a key whose record fails its integrity check is logged and
// counted and does not stop the others.
func TestAutomaticRotation(t *testing.T) {
	// The sweeps run 91 days ahead of the database's clock, which a test
	// cannot move: the tolerated skew covers the difference.
	laterSkew := func(cfg *Config) { cfg.MaxClockSkew = 92 * 24 * time.Hour }
	env := newEnv(t, laterSkew)
	ctx := context.Background()
	c := env.client
	due, notDue, disabled, broken := env.createKey(t), env.createKey(t), env.createKey(t), env.createKey(t)
	for _, id := range []string{due, disabled, broken} {
		if _, err := c.EnableKeyRotation(ctx, &awskms.EnableKeyRotationInput{KeyId: aws.String(id), RotationPeriodInDays: aws.Int32(90)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.EnableKeyRotation(ctx, &awskms.EnableKeyRotationInput{KeyId: aws.String(notDue), RotationPeriodInDays: aws.Int32(180)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DisableKey(ctx, &awskms.DisableKeyInput{KeyId: aws.String(disabled)}); err != nil {
		t.Fatal(err)
	}
	blob := env.encrypt(t, due, []byte("before"), nil)
	// A store writer without the root key damages one record.
	if _, err := env.srv.store.UpdateKey(ctx, broken, func(k *keystore.Key) error { k.WrappedMaterial[len(k.WrappedMaterial)-1] ^= 1; return nil }); err != nil {
		t.Fatal(err)
	}
	m0 := currentMaterial(t, c, due)
	at := time.Now().Add(91 * 24 * time.Hour)

	second := env.srv
	if testBackend == backendPostgres {
		other := newEnv(t, func(cfg *Config) { cfg.Store = openPostgres(t, &postgres.Config{URL: env.dbURL}); laterSkew(cfg) })
		second = other.srv
	}
	var wg sync.WaitGroup
	var n1, n2 int
	wg.Add(2)
	go func() { defer wg.Done(); n1 = env.srv.sweepRotations(ctx, at) }()
	go func() { defer wg.Done(); n2 = second.sweepRotations(ctx, at) }()
	wg.Wait()
	if n1+n2 != 1 {
		t.Fatalf("concurrent sweeps rotated %d + %d keys, want 1 in all", n1, n2)
	}
	if failed := metricValue(t, env.srv, "kms_key_rotations_total", "failed") + metricValue(t, second, "kms_key_rotations_total", "failed"); failed < 1 {
		t.Fatalf("the broken key's failure was not counted (%v)", failed)
	}
	m1 := currentMaterial(t, c, due)
	if m1 == m0 {
		t.Fatal("the due key did not rotate")
	}
	lr, err := c.ListKeyRotations(ctx, &awskms.ListKeyRotationsInput{KeyId: aws.String(due)})
	if err != nil {
		t.Fatalf("ListKeyRotations after the automatic rotation: %+v, %v", lr, err)
	}
	st, err := c.GetKeyRotationStatus(ctx, &awskms.GetKeyRotationStatusInput{KeyId: aws.String(due)})
	if err != nil || !st.NextRotationDate.After(at.Add(89*24*time.Hour)) {
		t.Fatalf("next rotation after the automatic one: %+v, %v", st, err)
	}
	for _, id := range []string{notDue, disabled} {
		lr, err := c.ListKeyRotations(ctx, &awskms.ListKeyRotationsInput{KeyId: aws.String(id)})
		if err != nil || len(lr.Rotations) != 0 {
			t.Fatalf("key %s rotated: %+v, %v", id, lr, err)
		}
	}
	if pt := env.decrypt(t, blob, nil); string(pt) != "before" {
		t.Fatal("a blob from before the automatic rotation")
	}
	// Not due again at the same time.
	if n := env.srv.sweepRotations(ctx, at); n != 0 {
		t.Fatalf("a second sweep rotated %d keys", n)
	}
}

func metricValue(t testing.TB, s *Server, name, result string) float64 {
	t.Helper()
	mfs, err := s.metrics.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "result" && l.GetValue() == result {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// TestRotationStoreAttacks: a store writer without the root key cannot
// move a retired material between keys or relabel it, nor make a blob
// name a material the key lacks: every such Decrypt fails, none
// decrypts under the wrong material.
func TestRotationStoreAttacks(t *testing.T) {
	env := newEnv(t, nil)
	ctx := context.Background()
	c := env.client
	a, b := env.createKey(t), env.createKey(t)
	blobA := env.encrypt(t, a, []byte("a"), nil)
	blobB := env.encrypt(t, b, []byte("b"), nil)
	for _, id := range []string{a, b} {
		if _, err := c.RotateKeyOnDemand(ctx, &awskms.RotateKeyOnDemandInput{KeyId: aws.String(id)}); err != nil {
			t.Fatal(err)
		}
	}
	ka, err := env.srv.store.GetKey(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	// Key A's retired material, relabelled as key B's.
	if _, err := env.srv.store.UpdateKey(ctx, b, func(k *keystore.Key) error {
		k.RetiredMaterials[0].WrappedMaterial = ka.RetiredMaterials[0].WrappedMaterial
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	_, err = c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: blobB})
	wantCode(t, err, CodeInternal)
	// Key A's retired material relabelled with another ID.
	if _, err := env.srv.store.UpdateKey(ctx, a, func(k *keystore.Key) error {
		k.RetiredMaterials[0].MaterialID = k.MaterialID[:63] + "0"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	_, err = c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: blobA})
	wantCode(t, err, CodeInvalidCiphertext)
	// A blob naming a material the key does not have (changed header: it
	// no longer authenticates either).
	forged := env.encrypt(t, a, []byte("x"), nil)
	forged[5+36] ^= 0xff
	_, err = c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: forged})
	wantCode(t, err, CodeInvalidCiphertext)
}

// TestLegacyKeyRotation: a key made before rotation existed (no material
// ID, version 1 blobs) rotates; its v1 blobs keep decrypting with its
// original material, and DescribeKey shows a stable material ID for it.
func TestLegacyKeyRotation(t *testing.T) {
	env := newEnv(t, nil)
	ctx := context.Background()
	id := env.createKey(t)
	// Turn the record into one of an earlier release: no material ID.
	var raw []byte
	if _, err := env.srv.store.UpdateKey(ctx, id, func(k *keystore.Key) error {
		var err error
		if raw, _, err = env.srv.root.Unwrap(binding(k), k.WrappedMaterial); err != nil {
			return err
		}
		k.MaterialID = ""
		k.WrappedMaterial, err = env.srv.root.Wrap(env.srv.rand, binding(k), raw)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	m, err := keymaterial.NewMaterial(keymaterial.SpecSymmetric, raw)
	if err != nil {
		t.Fatal(err)
	}
	v1, err := keymaterial.SealBlob(m.AEAD, env.srv.rand, id, []byte("legacy"), nil)
	if err != nil {
		t.Fatal(err)
	}
	orig := currentMaterial(t, env.client, id)
	if orig != displayMaterialID(id, "") {
		t.Fatal("legacy material ID")
	}
	if _, err := env.client.RotateKeyOnDemand(ctx, &awskms.RotateKeyOnDemandInput{KeyId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	if pt := env.decrypt(t, v1, nil); string(pt) != "legacy" {
		t.Fatal("a v1 blob after rotation")
	}
	lr, err := env.client.ListKeyRotations(ctx, &awskms.ListKeyRotationsInput{KeyId: aws.String(id), IncludeKeyMaterial: types.IncludeKeyMaterialAllKeyMaterial})
	if err != nil || len(lr.Rotations) != 2 || *lr.Rotations[0].KeyMaterialId != orig {
		t.Fatalf("ListKeyRotations of a legacy key: %+v, %v", lr, err)
	}
}

// BenchmarkDecryptMaterial: the whole Decrypt request path for a blob
// under the current material and one under a retired material (after
// three rotations); the ratio of the two is recorded in
// docs/PERFORMANCE.md.
func BenchmarkDecryptMaterial(b *testing.B) {
	env := newEnv(b, nil)
	ctx := context.Background()
	id := env.createKey(b)
	old := env.encrypt(b, id, []byte("payload under an old material"), nil)
	for range 3 {
		if _, err := env.client.RotateKeyOnDemand(ctx, &awskms.RotateKeyOnDemandInput{KeyId: aws.String(id)}); err != nil {
			b.Fatal(err)
		}
	}
	cur := env.encrypt(b, id, []byte("payload under the new material"), nil)
	h := env.srv.Handler()
	for _, tc := range []struct {
		name string
		blob []byte
	}{{"current", cur}, {"retired", old}} {
		b.Run(tc.name, func(b *testing.B) {
			body, _ := json.Marshal(map[string]any{"CiphertextBlob": tc.blob})
			hdr := signedHeaders(b, body, "Decrypt")
			serve := func() {
				r := httptest.NewRequest("POST", "http://kms.local/", bytes.NewReader(body))
				r.Header = hdr.Clone()
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != http.StatusOK {
					b.Fatalf("status %d: %s", w.Code, w.Body.String())
				}
			}
			serve()
			b.ResetTimer()
			for b.Loop() {
				serve()
			}
		})
	}
}

// signedHeaders signs a request body for op with the test credentials,
// now, and returns its headers.
func signedHeaders(tb testing.TB, body []byte, op string) http.Header {
	tb.Helper()
	req, _ := http.NewRequest("POST", "http://kms.local/", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "TrentService."+op)
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: testSecret},
		req, hex.EncodeToString(sum[:]), "kms", "us-east-1", time.Now()); err != nil {
		tb.Fatal(err)
	}
	return req.Header
}

// TestServeRotatesKeys: Serve runs the automatic rotation loop: once the
// (injected) clock passes a key's rotation date, the key rotates without a
// request, and the rotation is counted in the metrics.
func TestServeRotatesKeys(t *testing.T) {
	var now atomic.Pointer[time.Time]
	t0 := time.Now()
	now.Store(&t0)
	var sw *sweeps
	srv, _ := newServing(t, func(c *Config) {
		sw = watchSweeps(c)
		c.Clock = func() time.Time { return *now.Load() }
		c.MaxClockSkew = 100 * 24 * time.Hour // requests are signed with the real clock
		c.RotationSweepInterval = 20 * time.Millisecond
	})
	client := awskms.NewFromConfig(aws.Config{Region: "us-east-1", HTTPClient: sdkhttp.New(nil),
		Credentials: credentials.NewStaticCredentialsProvider(testAKID, testSecret, "")},
		func(o *awskms.Options) { o.BaseEndpoint = aws.String("http://" + srv.Addr("kms").String()) })
	ctx := context.Background()
	ck, err := client.CreateKey(ctx, &awskms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	id := ck.KeyMetadata.KeyId
	if _, err := client.EnableKeyRotation(ctx, &awskms.EnableKeyRotationInput{KeyId: id, RotationPeriodInDays: aws.Int32(90)}); err != nil {
		t.Fatal(err)
	}
	later := t0.Add(90*24*time.Hour + time.Minute)
	now.Store(&later)
	sw.waitFresh("rotation")
	lr, err := client.ListKeyRotations(ctx, &awskms.ListKeyRotationsInput{KeyId: id})
	if err != nil {
		t.Fatalf("no automatic rotation after a sweep past the rotation date: %v", err)
	}
	if len(lr.Rotations) != 1 || lr.Rotations[0].RotationType != types.RotationTypeAutomatic {
		t.Fatalf("no automatic rotation after a sweep past the rotation date: %+v", lr.Rotations)
	}
	// The sweep counts the rotation before it ends.
	if code, body := httpGet(t, "http://"+srv.Addr("metrics").String()+"/metrics"); code != 200 || !strings.Contains(body, `kms_key_rotations_total{result="rotated"} 1`) {
		t.Fatalf("metrics: %d %s", code, body)
	}
}
