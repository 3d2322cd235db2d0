// SPDX-License-Identifier: Apache-2.0

package kmsconfig

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoadRefusesReadableSecrets: kms-server.yaml holds every access
// key's SigV4 secret (the administrator's: kms:*), or a database password
// in postgres.url. Like the root key file, it is refused when group or
// others can access it (ErrFileMode, naming the setting and the chmod);
// a file without secrets may stay readable.
func TestLoadRefusesReadableSecrets(t *testing.T) {
	st, err := WriteStarter(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Load(st.ConfigPath); err != nil {
		t.Fatalf("starter file (mode 0600): %v", err)
	}
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o620} {
		if err := os.Chmod(st.ConfigPath, mode); err != nil { // e.g. install -m 644, or an editor's save under umask 022
			t.Fatal(err)
		}
		_, err := Load(st.ConfigPath)
		if !errors.Is(err, ErrFileMode) || !errors.Is(err, ErrConfig) {
			t.Fatalf("kms-server.yaml with access_keys at mode %v: %v, want ErrFileMode", mode, err)
		}
		for _, want := range []string{"access_keys", "chmod 600 " + st.ConfigPath} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("mode %v: error %q does not say %q", mode, err, want)
			}
		}
		if strings.Contains(err.Error(), st.Secret) {
			t.Errorf("the error shows the secret: %q", err)
		}
	}

	dir := t.TempDir()
	for _, tc := range []struct {
		yaml   string
		refuse bool
	}{
		{"postgres:\n  url: postgres://kms:hunter2@db:5432/kms\nroot_key_env: K\n", true},
		{"postgres:\n  url: \"host=db user=kms password=hunter2 dbname=kms\"\nroot_key_env: K\n", true},
		{"postgres:\n  url: postgres://db:5432/kms?password=hunter2\nroot_key_env: K\n", true},
		{"postgres:\n  url: postgres://kms@db:5432/kms?sslmode=verify-full\nroot_key_env: K\n", false},
		{"postgres:\n  url_env: KMS_POSTGRES_URL\nroot_key_env: K\n", false},
		{"key_store_dir: keys\nroot_key_file: root.key\n", false},
	} {
		p := filepath.Join(dir, "kms-server.yaml")
		os.Remove(p)
		if err := os.WriteFile(p, []byte(tc.yaml), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Load(p)
		if tc.refuse {
			if !errors.Is(err, ErrFileMode) || !strings.Contains(err.Error(), "postgres.url") {
				t.Errorf("%q at 0644: %v, want ErrFileMode naming postgres.url", tc.yaml, err)
			} else if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("the error shows the password: %q", err)
			}
		} else if err != nil {
			t.Errorf("%q (no secret) at 0644: %v", tc.yaml, err)
		}
	}
}

// TestTLSKeyModeChecked: the TLS private key is refused when group or
// others can access it, at load and at a reload (SIGHUP), where the
// previous pair stays in use.
func TestTLSKeyModeChecked(t *testing.T) {
	st, err := WriteStarter(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(st.TLSKeyPath, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Load(st.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.Certificate()
	var me *FileModeError
	var ce *CertificateError
	if !errors.As(err, &me) || !errors.Is(err, ErrFileMode) || !errors.As(err, &ce) || ce.File != st.TLSKeyPath {
		t.Fatalf("tls.key at mode 0644: %v, want a CertificateError for the key with a FileModeError", err)
	}
	if want := "chmod 600 " + st.TLSKeyPath; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}

	if err := os.Chmod(st.TLSKeyPath, 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := f.Certificate()
	if err != nil {
		t.Fatal(err)
	}
	before, _ := c.GetCertificate(nil)
	if err := os.Chmod(st.TLSKeyPath, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := c.Reload(); !errors.Is(err, ErrFileMode) {
		t.Fatalf("Reload with tls.key at mode 0640: %v, want ErrFileMode", err)
	}
	if after, _ := c.GetCertificate(nil); after != before {
		t.Fatal("the refused reload replaced the certificate")
	}
}

// TestRootKeyFileChecks: the root key file is judged by the file opened
// (one fstat, no separate lookup of the path before): group or others
// able to read it is ErrFileMode, a missing file ErrNoRootKey, and a
// mode 0400 file (as systemd's LoadCredential= makes) is accepted.
func TestRootKeyFileChecks(t *testing.T) {
	st, err := WriteStarter(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	f, err := Load(st.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range []os.FileMode{0o604, 0o640, 0o644} {
		os.Chmod(st.RootKeyPath, mode)
		_, err := f.RootKey()
		if !errors.Is(err, ErrFileMode) || !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "root_key_file") ||
			!strings.Contains(err.Error(), st.RootKeyPath+" is accessible by group or others") {
			t.Fatalf("root key at mode %v: %v, want ErrFileMode naming the file", mode, err)
		}
	}
	os.Chmod(st.RootKeyPath, 0o400)
	if k, err := f.RootKey(); err != nil || len(k) != 32 {
		t.Fatalf("root key at mode 0400: %v", err)
	}
	os.Remove(st.RootKeyPath)
	if _, err := f.RootKey(); !errors.Is(err, ErrNoRootKey) {
		t.Fatalf("root key missing: %v, want ErrNoRootKey", err)
	}
}
