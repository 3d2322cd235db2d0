// SPDX-License-Identifier: Apache-2.0

package nitroca

import (
	"bytes"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func rootFiles(t *testing.T) (dir, certFile, keyFile string) {
	dir = t.TempDir()
	return dir, filepath.Join(dir, "root.pem"), filepath.Join(dir, "root.key")
}

// TestLoadOrCreateRootRecoversFromCrashInSave: a crash inside Save, which
// writes the certificate then the key, leaves the certificate alone. That
// is no usable root, so LoadOrCreateRoot makes and saves a new one
// instead of failing on every later start.
func TestLoadOrCreateRootRecoversFromCrashInSave(t *testing.T) {
	old, err := NewRoot(rand.Reader, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	_, certFile, keyFile := rootFiles(t)
	if err := os.WriteFile(certFile, old.CertPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := LoadOrCreateRoot(certFile, keyFile, rand.Reader, time.Now())
	if err != nil {
		t.Fatalf("after a crash inside Save: %v", err)
	}
	if r.Cert.Equal(old.Cert) {
		t.Errorf("the half-saved root was kept")
	}
	again, err := LoadRoot(certFile, keyFile)
	if err != nil || !again.Cert.Equal(r.Cert) {
		t.Errorf("the new root was not saved: %v", err)
	}
}

// TestLoadOrCreateRootKeyWithoutCertificate: Save never leaves a key
// alone (an older version's interrupted save or a removed certificate
// did), so the key is not thrown away: the error names the file to
// remove, and the key stays.
func TestLoadOrCreateRootKeyWithoutCertificate(t *testing.T) {
	old, err := NewRoot(rand.Reader, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	k, _ := old.KeyPEM()
	_, certFile, keyFile := rootFiles(t)
	if err := os.WriteFile(keyFile, k, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = LoadOrCreateRoot(certFile, keyFile, rand.Reader, time.Now())
	if !errors.Is(err, ErrRoot) || !strings.Contains(err.Error(), "remove "+keyFile+" to make a new root") {
		t.Fatalf("key alone: %v, want ErrRoot naming the file to remove", err)
	}
	if b, _ := os.ReadFile(keyFile); !bytes.Equal(b, k) {
		t.Errorf("the key was overwritten")
	}
	if _, err := os.Stat(certFile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a certificate was written beside the old key: %v", err)
	}
}

// TestLoadOrCreateRootKeepsSavedRoot: a complete root is loaded, never
// replaced, and a broken pair (key of one root, certificate of another) is
// an error that leaves both files as they were.
func TestLoadOrCreateRootKeepsSavedRoot(t *testing.T) {
	_, certFile, keyFile := rootFiles(t)
	r1, err := LoadOrCreateRoot(certFile, keyFile, rand.Reader, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	r2, err := LoadOrCreateRoot(certFile, keyFile, rand.Reader, time.Now())
	if err != nil || !r2.Cert.Equal(r1.Cert) {
		t.Fatalf("second start: %v, or a different root", err)
	}

	other, err := NewRoot(rand.Reader, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, other.CertPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	key, _ := os.ReadFile(keyFile)
	if _, err := LoadOrCreateRoot(certFile, keyFile, rand.Reader, time.Now()); !errors.Is(err, ErrRoot) {
		t.Fatalf("mismatched pair: %v, want ErrRoot", err)
	}
	if c, _ := os.ReadFile(certFile); !bytes.Equal(c, other.CertPEM()) {
		t.Errorf("the certificate of a broken pair was overwritten")
	}
	if k, _ := os.ReadFile(keyFile); !bytes.Equal(k, key) {
		t.Errorf("the key of a broken pair was overwritten")
	}
}

// TestLoadOrCreateRootConcurrentFirstStart: processes (here goroutines,
// each with its own lock file descriptor, as flock sees processes) starting
// together on a fresh directory agree on one root, and the files on disk
// hold its certificate and its key.
func TestLoadOrCreateRootConcurrentFirstStart(t *testing.T) {
	for i := range 100 {
		_, certFile, keyFile := rootFiles(t)
		var wg sync.WaitGroup
		roots := make([]*Root, 3)
		errs := make([]error, len(roots))
		for j := range roots {
			wg.Add(1)
			go func() {
				defer wg.Done()
				roots[j], errs[j] = LoadOrCreateRoot(certFile, keyFile, rand.Reader, time.Now())
			}()
		}
		wg.Wait()
		saved, err := LoadRoot(certFile, keyFile)
		if err != nil {
			t.Fatalf("run %d: concurrent first starts left a broken root: %v", i, err)
		}
		for j, err := range errs {
			if err != nil {
				t.Fatalf("run %d: a start beside another failed: %v", i, err)
			}
			if !roots[j].Cert.Equal(saved.Cert) {
				t.Fatalf("run %d: start %d uses a root other than the saved one", i, j)
			}
		}
	}
}
