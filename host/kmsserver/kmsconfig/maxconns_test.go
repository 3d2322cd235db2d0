// SPDX-License-Identifier: Apache-2.0

package kmsconfig

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/enclavekit/enclavekit/host/kmsserver"
	"github.com/enclavekit/enclavekit/internal/strictyaml"
)

// TestMaxConnectionsKey: max_connections reaches
// kmsserver.Config.MaxConnections; left out, the server's default applies;
// a value out of 1 to MaxMaxConnections is a configuration error naming the
// key and the fix, with the key's line; a value that is not an integer is
// one naming the key; a misspelt key is refused with a suggestion.
func TestMaxConnectionsKey(t *testing.T) {
	load, path, base := starterPlus(t, "conns.yaml")
	var err error
	for v, want := range map[string]int{"": 0, "1": 1, "4096": 4096, "100000": 100000, "1000000": 1000000} {
		line := ""
		if v != "" {
			line = "max_connections: " + v
		}
		f, err := load(line)
		if err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		cfg, err := f.ServerConfig(nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.MaxConnections != want {
			t.Errorf("%q: MaxConnections %d, want %d", line, cfg.MaxConnections, want)
		}
	}
	for _, v := range []string{"0", "-1", "-4096", "1000001", "9223372036854775807"} {
		_, err := load("max_connections: " + v)
		var fe *FileError
		var se *strictyaml.Error
		if !errors.As(err, &fe) || !errors.Is(err, ErrConfig) || !errors.As(err, &se) || se.Key != "max_connections" || se.Line == 0 {
			t.Fatalf("max_connections: %s: %v", v, err)
		}
		for _, s := range []string{v + " is out of range", "from 1 to 1000000", "leave it out for the default 4096"} {
			if !strings.Contains(se.Msg, s) {
				t.Errorf("max_connections: %s: the error does not say %q: %v", v, s, err)
			}
		}
	}
	for _, v := range []string{"4k", "1.5", "1e6", "true", "[4096]", "99999999999999999999", ".inf"} {
		_, err := load("max_connections: " + v)
		var fe *FileError
		if !errors.As(err, &fe) || !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "max_connections") {
			t.Fatalf("max_connections: %s: %v", v, err)
		}
	}
	_, err = load("max_connection: 4096")
	if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), `(did you mean "max_connections"?)`) {
		t.Fatalf("max_connections misspelt: %v", err)
	}
	// The whole message, as the operator reads it.
	_, err = load("max_connections: 0")
	want := path + ": line " + strconv.Itoa(strings.Count(string(base), "\n")+1) +
		": max_connections: 0 is out of range: give a number of connections from 1 to 1000000 (such as 4096), or leave it out for the default 4096"
	if err == nil || err.Error() != want {
		t.Errorf("max_connections 0:\n got %v\nwant %s", err, want)
	}
	if kmsserver.DefaultMaxConnections > MaxMaxConnections {
		t.Errorf("the server's default %d is beyond the file's range", kmsserver.DefaultMaxConnections)
	}
}
