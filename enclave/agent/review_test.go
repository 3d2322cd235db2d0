// SPDX-License-Identifier: Apache-2.0

package agent

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/enclavekit/enclavekit/attestation"
)

// TestEndpointRefusesCallerPublicKey: a caller of the attestation endpoint
// (the parent instance fronts its vsock port) must not obtain a document
// that binds the enclave's PCRs to a public key of its choosing. With such
// a document as Recipient, KMS encrypts data keys to the caller's key and
// every PCR condition of the key policy is met: the key release that the
// Recipient flow protects would be open to the parent.
func TestEndpointRefusesCallerPublicKey(t *testing.T) {
	e := newEmulator(t)
	attacker, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	spki, err := x509.MarshalPKIXPublicKey(&attacker.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	body := `{"nonce":"00","public_key":"` + hex.EncodeToString(spki) + `"}`

	post := func(h http.Handler) (int, string, []byte) {
		srv := httptest.NewServer(h)
		defer srv.Close()
		resp, err := http.Post(srv.URL+AttestationPath, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var ej struct{ Error struct{ Code string } }
		_ = json.Unmarshal(b, &ej)
		return resp.StatusCode, ej.Error.Code, b
	}

	h, err := NewEndpoint(&EndpointConfig{NSM: e, Kind: "emulator", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if status, code, b := post(h); status != http.StatusBadRequest || code != "bad_request" {
		if status == 200 {
			if d, err := attestation.Parse(b); err == nil && d.PublicKey != nil {
				t.Fatalf("endpoint signed a document carrying the caller's public key (%d bytes): a Recipient for KMS", len(d.PublicKey))
			}
		}
		t.Fatalf("public_key from the caller: %d %q, want 400 bad_request", status, code)
	}

	// Explicit opt-in still works, for deployments that need it.
	h, err = NewEndpoint(&EndpointConfig{NSM: e, Kind: "emulator", AllowPublicKey: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	status, _, b := post(h)
	if status != 200 {
		t.Fatalf("with AllowPublicKey: %d %s", status, b)
	}
	d, err := attestation.Verify(b, attestation.Options{Roots: []*x509.Certificate{e.Root()}, CurrentTime: time.Now(),
		PublicKey: spki, AllowDebugUnsafe: true})
	if err != nil || d == nil {
		t.Fatalf("with AllowPublicKey: %v", err)
	}
}
