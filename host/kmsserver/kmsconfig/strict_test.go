// SPDX-License-Identifier: Apache-2.0

package kmsconfig

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestStarterLoads: the file init writes loads (identity policies
// included), and a mistake in it is reported with its line and key.
func TestStarterLoads(t *testing.T) {
	st, err := WriteStarter(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	f, err := Load(st.ConfigPath)
	if err != nil {
		t.Fatalf("the starter does not load: %v", err)
	}
	if len(f.AccessKeys) == 0 || f.AccessKeys[0].Policy == nil {
		t.Fatalf("starter access keys: %+v", f.AccessKeys)
	}
	b, _ := os.ReadFile(st.ConfigPath)
	bad := filepath.Join(t.TempDir(), "kms-server.yaml")
	os.WriteFile(bad, append(b, "listn: x\n"...), 0o600)
	_, err = Load(bad)
	var fe *FileError
	if !errors.As(err, &fe) || !errors.Is(err, ErrConfig) || !strings.HasPrefix(err.Error(), bad+": line ") ||
		!strings.Contains(err.Error(), `unknown key "listn" (did you mean "listen"?)`) {
		t.Fatalf("Load: %v", err)
	}
}
