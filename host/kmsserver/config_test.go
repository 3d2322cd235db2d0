// SPDX-License-Identifier: Apache-2.0

package kmsserver

import (
	"crypto/x509"
	"errors"
	"testing"
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
