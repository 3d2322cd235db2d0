// SPDX-License-Identifier: Apache-2.0

package kmsconfig

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/enclavekit/enclavekit/host/kmsserver"
	"github.com/enclavekit/enclavekit/internal/strictyaml"
)

// TestDurationKeys: each duration key reaches its kmsserver.Config field;
// left out, the server's default applies; values out of the key's range
// and values that are not durations are configuration errors naming the
// key (and, for the range, the fix), with the key's line; a misspelt key
// is refused with a suggestion.
func TestDurationKeys(t *testing.T) {
	load, path, base := starterPlus(t, "durations.yaml")
	var err error
	for _, k := range []struct {
		key      string
		field    func(*kmsserver.Config) time.Duration
		valid    map[string]time.Duration // value: the field; "" leaves the key out (the server's default: 0 here)
		outside  []string                 // out of range
		says     []string                 // what an out-of-range error says
		notDur   []string                 // not durations
		misspelt string
	}{
		{
			key:      "key_usage_flush_interval",
			field:    func(c *kmsserver.Config) time.Duration { return c.KeyUsageFlushInterval },
			valid:    map[string]time.Duration{"": 0, "30s": 30 * time.Second, "1s": time.Second, "24h": 24 * time.Hour},
			outside:  []string{"0s", "-1m", "500ms", "25h", "8760h"},
			says:     []string{"from 1s to 24h", "leave it out"},
			notDur:   []string{"0", "5 minutes", "60", "true", "[1m]"},
			misspelt: "key_usage_flush_intervall",
		},
		{
			key:   "request_timeout",
			field: func(c *kmsserver.Config) time.Duration { return c.RequestTimeout },
			valid: map[string]time.Duration{"": 0, "10s": 10 * time.Second, "100ms": 100 * time.Millisecond,
				"29s": 29 * time.Second, "29.999s": 29999 * time.Millisecond},
			outside:  []string{"0s", "-5s", "-1ns", "99ms", "30s", "1m"},
			says:     []string{"from 100ms to below the 30s write timeout", "leave it out for the default 10s"},
			notDur:   []string{"0", "10 seconds", "10", "true", "[10s]"},
			misspelt: "request_timeot",
		},
	} {
		for v, want := range k.valid {
			line := ""
			if v != "" {
				line = k.key + ": " + v
			}
			f, err := load(line)
			if err != nil {
				t.Fatalf("%q: %v", line, err)
			}
			cfg, err := f.ServerConfig(nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := k.field(cfg); got != want {
				t.Errorf("%q: %v, want %v", line, got, want)
			}
		}
		for _, v := range k.outside {
			_, err := load(k.key + ": " + v)
			var fe *FileError
			var se *strictyaml.Error
			if !errors.As(err, &fe) || !errors.Is(err, ErrConfig) || !errors.As(err, &se) || se.Key != k.key || se.Line == 0 {
				t.Fatalf("%s: %s: %v", k.key, v, err)
			}
			for _, s := range k.says {
				if !strings.Contains(se.Msg, s) {
					t.Errorf("%s: %s: the error does not say %q: %v", k.key, v, s, err)
				}
			}
		}
		for _, v := range k.notDur {
			_, err := load(k.key + ": " + v)
			var fe *FileError
			if !errors.As(err, &fe) || !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), k.key) {
				t.Fatalf("%s: %s: %v", k.key, v, err)
			}
		}
		_, err := load(k.misspelt + ": 1m")
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), `(did you mean "`+k.key+`"?)`) {
			t.Fatalf("%s misspelt: %v", k.key, err)
		}
	}
	// The whole message for a negative request_timeout, as the operator
	// reads it.
	_, err = load("request_timeout: -5s")
	want := path + ": line " + strconv.Itoa(strings.Count(string(base), "\n")+1) +
		": request_timeout: -5s is out of range: give a duration from 100ms to below the 30s write timeout (such as 10s), or leave it out for the default 10s"
	if err == nil || err.Error() != want {
		t.Errorf("negative request_timeout:\n got %v\nwant %s", err, want)
	}
}

// starterPlus writes kms-server init's starter file and returns a loader
// of that file with one more line appended (written to name beside it),
// the file's path and the starter's bytes.
func starterPlus(t *testing.T, name string) (load func(line string) (*File, error), path string, base []byte) {
	t.Helper()
	st, err := WriteStarter(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if base, err = os.ReadFile(st.ConfigPath); err != nil {
		t.Fatal(err)
	}
	path = filepath.Join(filepath.Dir(st.ConfigPath), name)
	load = func(line string) (*File, error) {
		if err := os.WriteFile(path, append(append([]byte{}, base...), line+"\n"...), 0o600); err != nil {
			t.Fatal(err)
		}
		return Load(path)
	}
	return load, path, base
}
