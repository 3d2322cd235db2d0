// SPDX-License-Identifier: Apache-2.0

package keyspec

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// testKeys caches one generated key per spec for the whole test binary:
// RSA_4096 generation takes about a second.
var testKeys sync.Map // Spec -> *Key

func testKey(tb testing.TB, spec Spec) *Key {
	tb.Helper()
	if k, ok := testKeys.Load(spec); ok {
		return k.(*Key)
	}
	k, err := Generate(spec)
	if err != nil {
		tb.Fatalf("Generate(%s): %v", spec, err)
	}
	v, _ := testKeys.LoadOrStore(spec, k)
	return v.(*Key)
}

// signingSpecs are the specs with SIGN_VERIFY usage.
var signingSpecs = []Spec{RSA2048, RSA3072, RSA4096, ECCNISTP256, ECCNISTP384, ECCNISTP521, ECCSECGP256K1, ECCNISTEdwards25519}

// opensslPath finds OpenSSL or skips: the cross-checks need an independent
// implementation.
func opensslPath(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("openssl")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("openssl is required for the cross-checks in CI")
		}
		t.Skip("openssl not found: the OpenSSL cross-checks need it (apt-get install openssl)")
	}
	return p
}

// openssl runs OpenSSL with args in dir and returns its stdout.
func openssl(t *testing.T, dir string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(opensslPath(t), args...)
	cmd.Dir = dir
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("openssl %v: %v\n%s", args, err, stderr.String())
	}
	return out.Bytes()
}

// opensslFails runs OpenSSL and reports whether it exited non-zero.
func opensslFails(t *testing.T, dir string, args ...string) bool {
	t.Helper()
	cmd := exec.Command(opensslPath(t), args...)
	cmd.Dir = dir
	return cmd.Run() != nil
}

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// wantErr checks err against the typed error target (by errors.As), the
// class sentinel and the AWS exception name.
func wantErr[T error](t *testing.T, err error, sentinel error, exception string) T {
	t.Helper()
	var target T
	if !errors.As(err, &target) {
		t.Fatalf("error = %v (%T), want %T", err, err, target)
	}
	if !errors.Is(err, sentinel) {
		t.Errorf("errors.Is(%v, %v) = false", err, sentinel)
	}
	if got := Exception(err); got != exception {
		t.Errorf("Exception = %q, want %q", got, exception)
	}
	return target
}
