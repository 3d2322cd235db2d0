// SPDX-License-Identifier: Apache-2.0

package kmsconfig

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/enclavekit/enclavekit/internal/strictyaml"
)

// TestKeyUsageFlushInterval: key_usage_flush_interval reaches
// kmsserver.Config.KeyUsageFlushInterval; left out, the server's default
// applies; zero, negative, sub-second and absurdly long values and values
// that are not durations are configuration errors naming the key (and, for
// the range, the fix), with the key's line.
func TestKeyUsageFlushInterval(t *testing.T) {
	st, err := WriteStarter(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	base, err := os.ReadFile(st.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	load := func(line string) (*File, error) {
		p := filepath.Join(filepath.Dir(st.ConfigPath), "flush.yaml")
		if err := os.WriteFile(p, append(append([]byte{}, base...), line+"\n"...), 0o600); err != nil {
			t.Fatal(err)
		}
		return Load(p)
	}
	for _, c := range []struct {
		line string
		want time.Duration
	}{
		{"", 0}, // the server's default (1 minute)
		{"key_usage_flush_interval: 30s", 30 * time.Second},
		{"key_usage_flush_interval: 1s", time.Second},
		{"key_usage_flush_interval: 24h", 24 * time.Hour},
	} {
		f, err := load(c.line)
		if err != nil {
			t.Fatalf("%q: %v", c.line, err)
		}
		cfg, err := f.ServerConfig(nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.KeyUsageFlushInterval != c.want {
			t.Errorf("%q: KeyUsageFlushInterval %v, want %v", c.line, cfg.KeyUsageFlushInterval, c.want)
		}
	}
	for _, v := range []string{"0s", "-1m", "500ms", "25h", "8760h"} {
		_, err := load("key_usage_flush_interval: " + v)
		var fe *FileError
		var se *strictyaml.Error
		if !errors.As(err, &fe) || !errors.Is(err, ErrConfig) || !errors.As(err, &se) || se.Key != "key_usage_flush_interval" || se.Line == 0 {
			t.Fatalf("key_usage_flush_interval: %s: %v", v, err)
		}
		if !strings.Contains(se.Msg, "from 1s to 24h") || !strings.Contains(se.Msg, "leave it out") {
			t.Errorf("key_usage_flush_interval: %s: the error does not say what to give: %v", v, err)
		}
	}
	for _, v := range []string{"0", "5 minutes", "60", "true", "[1m]"} {
		_, err := load("key_usage_flush_interval: " + v)
		var fe *FileError
		if !errors.As(err, &fe) || !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "key_usage_flush_interval") {
			t.Fatalf("key_usage_flush_interval: %s: %v", v, err)
		}
	}
	_, err = load("key_usage_flush_intervall: 1m")
	if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), `(did you mean "key_usage_flush_interval"?)`) {
		t.Fatalf("misspelt key: %v", err)
	}
}
