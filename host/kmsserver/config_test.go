// SPDX-License-Identifier: Apache-2.0

package kmsserver

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestConfigErrors(t *testing.T) {
	good := func() *Config {
		return &Config{Store: openDir(t, t.TempDir()), RootKey: make([]byte, 32),
			AccessKeys: map[string]AccessKey{"A": {Secret: "s", PrincipalARN: "arn:aws:iam::111122223333:user/a", Policy: FullAccessPolicy}}}
	}
	for name, tc := range map[string]struct {
		mod     func(*Config)
		setting string
	}{
		"short root key":                       {func(c *Config) { c.RootKey = make([]byte, 16) }, "root key"},
		"no access keys":                       {func(c *Config) { c.AccessKeys = nil }, "access keys"},
		"no store":                             {func(c *Config) { c.Store = nil }, "key store"},
		"bad account":                          {func(c *Config) { c.AccountID = "12" }, "account ID"},
		"bad region":                           {func(c *Config) { c.Region = "Mars" }, "region"},
		"empty roots":                          {func(c *Config) { c.AttestationRoots = []*x509.Certificate{} }, "attestation roots"},
		"no principal":                         {func(c *Config) { c.AccessKeys["A"] = AccessKey{Secret: "s"} }, `access key "A"`},
		"negative skew":                        {func(c *Config) { c.MaxClockSkew = -1 }, "maximum clock skew"},
		"negative request timeout":             {func(c *Config) { c.RequestTimeout = -time.Second }, "request timeout"},
		"request timeout at the write timeout": {func(c *Config) { c.RequestTimeout = WriteTimeout }, "request timeout"},
		"no identity policy": {func(c *Config) {
			c.AccessKeys["A"] = AccessKey{Secret: "s", PrincipalARN: "arn:aws:iam::111122223333:user/a"}
		}, `access key "A"`},
		"identity policy with a Principal": {func(c *Config) {
			c.AccessKeys["A"] = AccessKey{Secret: "s", PrincipalARN: "arn:aws:iam::111122223333:user/a",
				Policy: `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}]}`}
		}, `access key "A"`},
		"one principal, two identity policies": {func(c *Config) {
			c.AccessKeys["B"] = AccessKey{Secret: "s", PrincipalARN: "arn:aws:iam::111122223333:user/a",
				Policy: `{"Statement":[{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*"}]}`}
		}, `access key "B"`},
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

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:7700": true, "tcp://127.0.0.1:7700": true, "127.1.2.3:1": true, "[::1]:7700": true,
		"localhost:7700": true, "LOCALHOST:1": true, "unix:///run/kms.sock": true,
		":7700": false, "0.0.0.0:7700": false, "[::]:7700": false, "10.0.0.1:7700": false,
		"kms.internal:7700": false, "vsock://3:7700": false, "vsock://any:7700": false, "garbage": false,
	} {
		if got := isLoopback(addr); got != want {
			t.Errorf("isLoopback(%q) = %v, want %v", addr, got, want)
		}
	}
}

// TestPlainHTTPOnlyOnLoopback: a KMS listener that is not loopback needs
// TLS, or insecure_http_unsafe said explicitly (issue 12).
func TestPlainHTTPOnlyOnLoopback(t *testing.T) {
	base := func() *Config {
		return &Config{Store: openDir(t, t.TempDir()), RootKey: make([]byte, 32), Listen: "0.0.0.0:7700",
			AccessKeys: map[string]AccessKey{"A": {Secret: "s", PrincipalARN: "arn:aws:iam::111122223333:user/a", Policy: FullAccessPolicy}}}
	}
	_, err := NewServer(base())
	var ce *ConfigError
	if !errors.As(err, &ce) || ce.Setting != "listen" || !strings.Contains(ce.Reason, "insecure_http_unsafe") {
		t.Fatalf("plain HTTP on 0.0.0.0: %v", err)
	}
	if !errors.Is(err, ErrPlainHTTP) || !errors.Is(err, ErrConfig) {
		t.Fatalf("plain HTTP on 0.0.0.0: %v does not match ErrPlainHTTP and ErrConfig", err)
	}
	c := base()
	c.InsecureHTTPUnsafe = true
	if _, err := NewServer(c); err != nil {
		t.Fatalf("with InsecureHTTPUnsafe: %v", err)
	}
	c = base()
	c.TLSConfig = &tls.Config{}
	if _, err := NewServer(c); err != nil {
		t.Fatalf("with TLS: %v", err)
	}
}

// TestRequestTimeoutDefault: a zero RequestTimeout is the default, below
// the write timeout; one just below the write timeout is accepted.
func TestRequestTimeoutDefault(t *testing.T) {
	for _, tc := range []struct{ set, want time.Duration }{
		{0, DefaultRequestTimeout},
		{time.Second, time.Second},
		{WriteTimeout - time.Millisecond, WriteTimeout - time.Millisecond},
	} {
		s, err := NewServer(&Config{Store: openDir(t, t.TempDir()), RootKey: make([]byte, 32), RequestTimeout: tc.set,
			AccessKeys: map[string]AccessKey{"A": {Secret: "s", PrincipalARN: "arn:aws:iam::111122223333:user/a", Policy: FullAccessPolicy}}})
		if err != nil {
			t.Fatal(err)
		}
		if s.cfg.RequestTimeout != tc.want {
			t.Errorf("RequestTimeout %v: got %v, want %v", tc.set, s.cfg.RequestTimeout, tc.want)
		}
	}
	if DefaultRequestTimeout >= WriteTimeout {
		t.Fatalf("default request timeout %v is not below the write timeout %v", DefaultRequestTimeout, WriteTimeout)
	}
	_, err := NewServer(&Config{Store: openDir(t, t.TempDir()), RootKey: make([]byte, 32), RequestTimeout: -1,
		AccessKeys: map[string]AccessKey{"A": {Secret: "s", PrincipalARN: "arn:aws:iam::111122223333:user/a", Policy: FullAccessPolicy}}})
	if err == nil || err.Error() != "kmsserver: request timeout: negative" {
		t.Fatalf("negative request timeout: %v", err)
	}
}
