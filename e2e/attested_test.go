// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/enclavekit/enclavekit/attestation"
	"github.com/enclavekit/enclavekit/attestedtls"
)

// TestAttestedTLS: a remote client reaches the enclave application through
// host-proxy ingress (raw TCP) and the agent's attested TLS listener, with
// the Go client and with nitro-verify --connect; a client pinning another
// image is refused.
func TestAttestedTLS(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	dir, err := os.MkdirTemp("", "ek-atls")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := func(p ...string) string { return filepath.Join(append([]string{dir}, p...)...) }
	if err := os.Mkdir(path("enclave"), 0o700); err != nil {
		t.Fatal(err)
	}
	if r := run(t, ctx, "enclave-agent", "emulator-root", "--emulator-state", path("enclave"), "--out", path("root.pem")); r.code != 0 {
		t.Fatalf("emulator-root: exit %d: %s", r.code, r.stderr)
	}

	// The application inside the enclave, on loopback.
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "application: %s", r.URL.Path)
	}))
	t.Cleanup(app.Close)

	agent := start(t, "enclave-agent", "--nsm", "emulator", "--emulator-state", path("enclave"), "--pcr0", pcr0A,
		"serve", "--listen", "unix://"+path("enclave", "agent.sock"),
		"--attested-listen", "unix://"+path("enclave", "attested.sock"), "--upstream", app.URL,
		"--attested-handshake-rate", "500")
	agent.waitFor(t, `attested TLS listening.*handshake_rate=500`)

	writeFile(t, path("host-proxy.yaml"), fmt.Sprintf(`routes:
  - name: attested
    direction: ingress
    listen: tcp://127.0.0.1:0
    destination: unix://%s
`, path("enclave", "attested.sock")), 0o600)
	hp := start(t, "host-proxy", "--config", path("host-proxy.yaml"))
	ingress := hp.waitFor(t, `route=attested .*listen=(\S+)`)
	ingress = strings.TrimPrefix(ingress, "tcp://")

	// nitro-verify --connect through the parent's ingress route.
	r := run(t, ctx, "nitro-verify", "--connect", ingress, "--root", path("root.pem"), "--pcr", "0="+pcr0A, "--max-age", "5m", "--json")
	if r.code != 0 || !strings.Contains(r.stdout, `"verified": true`) || !strings.Contains(r.stdout, `"channel_binding"`) {
		t.Fatalf("nitro-verify --connect: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	r = run(t, ctx, "nitro-verify", "--connect", ingress, "--root", path("root.pem"), "--pcr", "0="+pcr0B)
	if r.code != 1 || !strings.Contains(r.stderr, "pcr_mismatch") {
		t.Fatalf("nitro-verify --connect, another image pinned: exit %d, want 1 pcr_mismatch\n%s", r.code, r.stderr)
	}

	// The Go client: every connection attested, then the application.
	rootPEM, err := os.ReadFile(path("root.pem"))
	if err != nil {
		t.Fatal(err)
	}
	roots, err := attestation.ParseRootsPEM(rootPEM)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := hex.DecodeString(pcr0A)
	cl, err := attestedtls.NewClient(&attestedtls.ClientConfig{Options: attestation.Options{
		Roots: roots, PCRs: map[int][]byte{0: want}, MaxAge: 5 * time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Transport: cl.Transport(), Timeout: 20 * time.Second}
	defer hc.CloseIdleConnections()
	resp, err := hc.Get("https://" + ingress + "/orders/42")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "application: /orders/42" {
		t.Fatalf("the application answered %q", body)
	}
}
