// SPDX-License-Identifier: Apache-2.0

package kmsserver

import (
	"context"
	"encoding/json"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
)

func TestMetricsAndAudit(t *testing.T) {
	env := newEnv(t, nil)
	ctx := context.Background()
	id := env.createKey(t)
	env.client.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String("alias/missing")})
	if err := env.srv.Healthy(ctx); err != nil {
		t.Fatal(err)
	}

	w := httptest.NewRecorder()
	env.srv.MetricsHandler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(w.Body)
	for _, want := range []string{
		`kms_requests_total{code="",operation="CreateKey"} 1`,
		`kms_requests_total{code="NotFoundException",operation="DescribeKey"} 1`,
		`kms_request_duration_seconds_bucket{operation="CreateKey"`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}

	lines := strings.Split(strings.TrimSpace(env.audit.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d audit lines, want 2", len(lines))
	}
	var ev map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &ev); err != nil {
		t.Fatal(err)
	}
	if ev["operation"] != "CreateKey" || ev["decision"] != "allow" || ev["principal"] != testPrincipal ||
		ev["keyArn"] != env.srv.keyARN(id) || ev["requestId"] == "" || ev["accessKeyId"] != testAKID {
		t.Fatalf("audit line: %v", ev)
	}
	json.Unmarshal([]byte(lines[1]), &ev)
	if ev["decision"] != "error" || ev["errorCode"] != CodeNotFound {
		t.Fatalf("audit line for a failure: %v", ev)
	}
}
