// SPDX-License-Identifier: Apache-2.0

package kmsconfig

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/enclavekit/enclavekit/host/kmsserver"
)

func TestStarterRoundTrip(t *testing.T) {
	dir := t.TempDir()
	st, err := WriteStarter(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{st.ConfigPath, st.RootKeyPath} {
		fi, err := os.Stat(p)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v", p, fi.Mode(), err)
		}
	}
	if _, err := WriteStarter(dir, nil); err == nil {
		t.Fatal("WriteStarter overwrote an existing configuration")
	}
	f, err := Load(st.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := f.ServerConfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.KeyStoreDir != filepath.Join(dir, "keys") || len(cfg.RootKey) != 32 ||
		cfg.AccessKeys[st.AccessKeyID].Secret != st.Secret || f.Listen != "127.0.0.1:7700" {
		t.Fatalf("config: %+v", cfg)
	}
	srv, err := kmsserver.NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv.Close()

	// A group-readable root key file is refused.
	os.Chmod(st.RootKeyPath, 0o640)
	if _, err := f.RootKey(); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("group-readable root key: %v", err)
	}
}

func TestUnknownField(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(p, []byte("listen: 127.0.0.1:1\nlisten_adress: x\n"), 0o600)
	if _, err := Load(p); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "listen_adress") {
		t.Fatalf("unknown field: %v", err)
	}
}

func TestRootKeyEnv(t *testing.T) {
	f := &File{RootKeyEnv: "ENCLAVEKIT_TEST_ROOT_KEY"}
	t.Setenv("ENCLAVEKIT_TEST_ROOT_KEY", strings.Repeat("ab", 32))
	if k, err := f.RootKey(); err != nil || len(k) != 32 || k[0] != 0xab {
		t.Fatalf("env root key: %x %v", k, err)
	}
	t.Setenv("ENCLAVEKIT_TEST_ROOT_KEY", "short")
	if _, err := f.RootKey(); !errors.Is(err, ErrConfig) {
		t.Fatalf("short env root key: %v", err)
	}
}
