// SPDX-License-Identifier: Apache-2.0

package kmsserver

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

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

func TestConfigErrors(t *testing.T) {
	good := func() *Config {
		return &Config{Store: openDir(t, t.TempDir()), RootKey: make([]byte, 32),
			AccessKeys: map[string]AccessKey{"A": {Secret: "s", PrincipalARN: "arn:aws:iam::111122223333:user/a"}}}
	}
	for name, tc := range map[string]struct {
		mod     func(*Config)
		setting string
	}{
		"short root key": {func(c *Config) { c.RootKey = make([]byte, 16) }, "root key"},
		"no access keys": {func(c *Config) { c.AccessKeys = nil }, "access keys"},
		"no store":       {func(c *Config) { c.Store = nil }, "key store"},
		"bad account":    {func(c *Config) { c.AccountID = "12" }, "account ID"},
		"bad region":     {func(c *Config) { c.Region = "Mars" }, "region"},
		"empty roots":    {func(c *Config) { c.AttestationRoots = []*x509.Certificate{} }, "attestation roots"},
		"no principal":   {func(c *Config) { c.AccessKeys["A"] = AccessKey{Secret: "s"} }, `access key "A"`},
		"negative skew":  {func(c *Config) { c.MaxClockSkew = -1 }, "maximum clock skew"},
	} {
		c := good()
		tc.mod(c)
		_, err := NewServer(c)
		var ce *ConfigError
		if !errors.Is(err, ErrConfig) || !errors.As(err, &ce) || ce.Setting != tc.setting {
			t.Errorf("%s: %v, want ErrConfig naming %q", name, err, tc.setting)
		}
	}
	if _, err := NewServer(nil); !errors.Is(err, ErrConfig) {
		t.Errorf("nil config: %v", err)
	}
	// Every problem at once.
	_, err := NewServer(&Config{Region: "Mars", AccountID: "12"})
	var errs ConfigErrors
	if !errors.As(err, &errs) || len(errs) != 5 {
		t.Fatalf("want 5 problems (store, region, account, root key, access keys), got %v", err)
	}
}

// TestDeletionTakesEffect: after the waiting period a key is gone.
func TestDeletionTakesEffect(t *testing.T) {
	var now atomic.Pointer[time.Time]
	t0 := time.Now()
	now.Store(&t0)
	env := newEnv(t, func(c *Config) { c.Clock = func() time.Time { return *now.Load() } })
	ctx := context.Background()
	id := env.createKey(t)
	if _, err := env.client.ScheduleKeyDeletion(ctx, &awskms.ScheduleKeyDeletionInput{KeyId: aws.String(id), PendingWindowInDays: aws.Int32(7)}); err != nil {
		t.Fatal(err)
	}
	later := t0.Add(7*24*time.Hour + time.Second)
	now.Store(&later)
	// Requests are signed with the real clock; widen the skew for this test.
	env.srv.cfg.MaxClockSkew = 8 * 24 * time.Hour
	_, err := env.client.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String(id)})
	wantCode(t, err, CodeNotFound)
}
