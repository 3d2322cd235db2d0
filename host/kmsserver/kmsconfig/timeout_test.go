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

	"github.com/enclavekit/enclavekit/internal/strictyaml"
)

// TestRequestTimeout: request_timeout reaches
// kmsserver.Config.RequestTimeout; left out, the server's default applies;
// zero, negative, tiny values and values from the 30 s write timeout on,
// and values that are not durations, are configuration errors naming the
// key (and, for the range, the fix), with the key's line.
func TestRequestTimeout(t *testing.T) {
	st, err := WriteStarter(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	base, err := os.ReadFile(st.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	load := func(line string) (*File, error) {
		p := filepath.Join(filepath.Dir(st.ConfigPath), "timeout.yaml")
		if err := os.WriteFile(p, append(append([]byte{}, base...), line+"\n"...), 0o600); err != nil {
			t.Fatal(err)
		}
		return Load(p)
	}
	for _, c := range []struct {
		line string
		want time.Duration
	}{
		{"", 0}, // the server's default (10 seconds)
		{"request_timeout: 10s", 10 * time.Second},
		{"request_timeout: 100ms", 100 * time.Millisecond},
		{"request_timeout: 29s", 29 * time.Second},
		{"request_timeout: 29.999s", 29999 * time.Millisecond},
	} {
		f, err := load(c.line)
		if err != nil {
			t.Fatalf("%q: %v", c.line, err)
		}
		cfg, err := f.ServerConfig(nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.RequestTimeout != c.want {
			t.Errorf("%q: RequestTimeout %v, want %v", c.line, cfg.RequestTimeout, c.want)
		}
	}
	for _, v := range []string{"0s", "-5s", "-1ns", "99ms", "30s", "1m"} {
		_, err := load("request_timeout: " + v)
		var fe *FileError
		var se *strictyaml.Error
		if !errors.As(err, &fe) || !errors.Is(err, ErrConfig) || !errors.As(err, &se) || se.Key != "request_timeout" || se.Line == 0 {
			t.Fatalf("request_timeout: %s: %v", v, err)
		}
		if !strings.Contains(se.Msg, "from 100ms to below the 30s write timeout") || !strings.Contains(se.Msg, "leave it out for the default 10s") {
			t.Errorf("request_timeout: %s: the error does not say what to give: %v", v, err)
		}
	}
	// The whole message for a negative value, as the operator reads it.
	_, err = load("request_timeout: -5s")
	lines := strings.Count(string(base), "\n") + 1
	want := filepath.Join(filepath.Dir(st.ConfigPath), "timeout.yaml") + ": line " + strconv.Itoa(lines) +
		": request_timeout: -5s is out of range: give a duration from 100ms to below the 30s write timeout (such as 10s), or leave it out for the default 10s"
	if err == nil || err.Error() != want {
		t.Errorf("negative request_timeout:\n got %v\nwant %s", err, want)
	}
	for _, v := range []string{"0", "10 seconds", "10", "true", "[10s]"} {
		_, err := load("request_timeout: " + v)
		var fe *FileError
		if !errors.As(err, &fe) || !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "request_timeout") {
			t.Fatalf("request_timeout: %s: %v", v, err)
		}
	}
}
