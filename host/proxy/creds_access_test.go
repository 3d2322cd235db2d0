// SPDX-License-Identifier: Apache-2.0

package proxy

import (
	"context"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/enclavekit/enclavekit/enclave/agent"
)

// credsEnvProxy serves credentials from source "env" on listen.
func credsEnvProxy(t *testing.T, listen string) *Proxy {
	t.Helper()
	log, _ := testLogger(t)
	p, _ := startProxy(t, &Config{Logger: log, Environ: []string{"AWS_ACCESS_KEY_ID=AKIDROLE", "AWS_SECRET_ACCESS_KEY=role-secret"},
		Credentials: &CredentialsConfig{Listen: listen, Source: "env"}})
	return p
}

// TestCredentialsRouteRefusesBrowsers: on loopback TCP a web page can reach
// the credentials route, e.g. through DNS rebinding (its own name resolving
// to 127.0.0.1, so the browser sends Host: that name and no preflight).
// Such requests, and any without the X-Enclavekit-Credentials header, are
// refused before any credential is fetched.
func TestCredentialsRouteRefusesBrowsers(t *testing.T) {
	p := credsEnvProxy(t, "tcp://127.0.0.1:0")
	addr := p.Addr("credentials").String()
	get := func(host string, hdr map[string]string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/credentials", nil)
		if host != "" {
			req.Host = host
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 && strings.Contains(string(body), "role-secret") {
			t.Fatalf("refusal carries the secret: %s", body)
		}
		if resp.StatusCode == 200 && !strings.Contains(string(body), "role-secret") {
			t.Fatalf("200 without credentials: %s", body)
		}
		return resp.StatusCode
	}
	ok := map[string]string{CredentialsHeader: "1"}
	for name, tc := range map[string]struct {
		host string
		hdr  map[string]string
		want int
	}{
		"enclavekit client":            {"localhost", ok, 200},
		"by address":                   {"", ok, 200},
		"ipv6 loopback host":           {"[::1]:8002", ok, 200},
		"no header":                    {"localhost", nil, http.StatusForbidden},
		"header with another value":    {"localhost", map[string]string{CredentialsHeader: "true"}, http.StatusForbidden},
		"dns rebinding":                {"attacker.example:8002", ok, http.StatusForbidden},
		"dns rebinding to localhost.x": {"localhost.attacker.example", ok, http.StatusForbidden},
		"browser origin":               {"localhost", map[string]string{CredentialsHeader: "1", "Origin": "http://localhost"}, http.StatusForbidden},
		"browser fetch metadata":       {"localhost", map[string]string{CredentialsHeader: "1", "Sec-Fetch-Site": "same-origin"}, http.StatusForbidden},
		"forwarded by a proxy":         {"localhost", map[string]string{CredentialsHeader: "1", "X-Forwarded-For": "203.0.113.9"}, http.StatusForbidden},
	} {
		if got := get(tc.host, tc.hdr); got != tc.want {
			t.Errorf("%s: HTTP %d, want %d", name, got, tc.want)
		}
	}
	waitMetric(t, p.m.creds.WithLabelValues("refused"), 7)
}

// TestCredentialsListenMustBeLocal: the credentials route on a TCP address
// other than loopback is a configuration error (host-proxy --check says so).
func TestCredentialsListenMustBeLocal(t *testing.T) {
	for listen, wantErr := range map[string]bool{
		"tcp://0.0.0.0:8002":     true,
		"tcp://:8002":            true,
		"tcp://[::]:8002":        true,
		"tcp://10.0.0.5:8002":    true,
		"tcp://kms.example:8002": true,
		"tcp://127.0.0.1:8002":   false,
		"tcp://127.0.0.2:8002":   false,
		"tcp://[::1]:8002":       false,
		"tcp://localhost:8002":   false,
		"unix:///run/creds.sock": false,
		"vsock://3:8002":         false,
	} {
		_, err := New(&Config{Credentials: &CredentialsConfig{Listen: listen, Source: "env"}})
		if got := err != nil; got != wantErr {
			t.Errorf("credentials listen %s: %v, want error %v", listen, err, wantErr)
		}
	}
	_, err := New(&Config{Credentials: &CredentialsConfig{Listen: "tcp://0.0.0.0:8002", Source: "env"}})
	var ce *ConfigError
	if !errors.As(err, &ce) || !errors.Is(err, ErrInvalidConfig) || ce.Where != "credentials" ||
		!strings.Contains(err.Error(), "reachable from the network") {
		t.Fatalf("0.0.0.0: %v", err)
	}
}

// TestAgentCredentialsClient keeps the enclave agent's credentials client
// in step with the route: it gets the credentials through the checks.
func TestAgentCredentialsClient(t *testing.T) {
	for _, listen := range []string{"tcp://127.0.0.1:0", "unix://" + filepath.Join(t.TempDir(), "c.sock")} {
		p := credsEnvProxy(t, listen)
		a := p.Addr("credentials")
		addr := "tcp://" + a.String()
		if a.Network() == "unix" {
			addr = "unix://" + a.String()
		}
		c, err := (&agent.EndpointCredentials{Addr: addr}).Retrieve(context.Background())
		if err != nil || c.AccessKeyID != "AKIDROLE" || c.SecretAccessKey != "role-secret" {
			t.Fatalf("%s: agent client: %+v, %v", listen, c.AccessKeyID, err)
		}
	}
}
