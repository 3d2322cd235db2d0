// SPDX-License-Identifier: Apache-2.0

package kmsserver

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/enclavekit/enclavekit/attestation"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var (
	uuidPattern = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	timePattern = regexp.MustCompile(`"time":"[^"]*"`)
)

// normalize replaces what differs between runs (key IDs, request IDs,
// times) with placeholders.
func normalize(s string) string {
	s = timePattern.ReplaceAllString(s, `"time":"<time>"`)
	return uuidPattern.ReplaceAllString(s, "<uuid>")
}

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from the golden file (go test -run %s -update rewrites it after review)\n--- got\n%s\n--- want\n%s", p, t.Name(), got, want)
	}
}

// goldenCalls is one request of every error class a client can meet, in
// the order the golden files list them.
var goldenCalls = []struct {
	name, target, body string
}{
	{"unknown operation", "Frobnicate", `{}`},
	{"unsupported operation", "CreateCustomKeyStore", `{}`},
	{"malformed JSON", "DescribeKey", `{"KeyId":`},
	{"wrong member type", "DescribeKey", `{"KeyId":7}`},
	{"no such key", "DescribeKey", `{"KeyId":"00000000-0000-4000-8000-000000000000"}`},
	{"no such alias", "DescribeKey", `{"KeyId":"alias/missing"}`},
	{"plaintext too short", "Encrypt", `{"KeyId":"KEY","Plaintext":""}`},
	{"dry run", "Encrypt", `{"KeyId":"KEY","Plaintext":"eA==","DryRun":true}`},
	{"not a ciphertext", "Decrypt", `{"CiphertextBlob":"eHh4eA=="}`},
	{"wrong encryption algorithm", "Encrypt", `{"KeyId":"KEY","Plaintext":"eA==","EncryptionAlgorithm":"RSAES_OAEP_SHA_256"}`},
	{"no key policy of that name", "GetKeyPolicy", `{"KeyId":"KEY","PolicyName":"other"}`},
	{"access denied", "DescribeKey", `{"KeyId":"LOCKED"}`},
	{"bad alias name", "CreateAlias", `{"AliasName":"alias/aws/x","TargetKeyId":"KEY"}`},
	{"data key size", "GenerateDataKey", `{"KeyId":"KEY","KeySpec":"AES_256","NumberOfBytes":32}`},
	{"body too large", "Encrypt", `{"KeyId":"KEY","Plaintext":"` + strings.Repeat("A", 9000) + `"}`},
}

// TestGoldenErrorBodies pins KMS error responses (status, X-Amzn-ErrorType,
// body) as SDKs and the aws CLI parse them, and TestGoldenAudit the audit
// lines of the same requests.
func TestGoldenErrorBodies(t *testing.T) {
	errs, _ := goldenRun(t)
	golden(t, "errors.golden", errs)
}

func TestGoldenAudit(t *testing.T) {
	_, audit := goldenRun(t)
	golden(t, "audit.golden", audit)
}

func goldenRun(t *testing.T) (errs, audit string) {
	e := newRecipientEnv(t, func(c *Config) { c.MaxBodyBytes = 8 << 10 })
	ctx := context.Background()
	key := e.createKey(t)
	locked := `{"Version":"2012-10-17","Statement":[{"Sid":"OnlyPolicy","Effect":"Allow","Principal":{"AWS":"` + testPrincipal + `"},"Action":"kms:PutKeyPolicy","Resource":"*"}]}`
	lk, err := e.client.CreateKey(ctx, &awskms.CreateKeyInput{Policy: aws.String(locked)})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	for _, c := range goldenCalls {
		body := strings.ReplaceAll(strings.ReplaceAll(c.body, "LOCKED", *lk.KeyMetadata.KeyId), "KEY", key)
		status, code, resp := signedPost(t, e.testEnv, c.target, []byte(body), time.Now(), nil)
		var v map[string]any
		if err := json.Unmarshal([]byte(resp), &v); err != nil {
			t.Fatalf("%s: body is not JSON: %q", c.name, resp)
		}
		fmt.Fprintf(&out, "# %s: %s\n%d %s\n%s\n\n", c.name, c.target, status, code, resp)
	}
	// A recipient request: the audit line carries the document's module ID
	// and image digest, as CloudTrail's additionalEventData.
	if _, err := e.client.GenerateRandom(ctx, &awskms.GenerateRandomInput{NumberOfBytes: aws.Int32(32),
		Recipient: &types.RecipientInfo{KeyEncryptionAlgorithm: types.KeyEncryptionMechanismRsaesOaepSha256, AttestationDocument: e.doc(t, func(d *attestation.Document) { d.ModuleID = "i-0123456789abcdef0-enc0123456789abcdef" })}}); err != nil {
		t.Fatal(err)
	}
	return normalize(out.String()), normalize(e.audit.String())
}
