// SPDX-License-Identifier: Apache-2.0

package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
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

// TestCredentialsRouteRefusesBrowsers: the route listens on vsock or a
// unix socket, which no web page reaches; should anything forward a
// browser's request to it (a local proxy, a socat), e.g. through DNS
// rebinding (a page's own name resolving to 127.0.0.1, so the browser
// sends Host: that name and no preflight), such requests, and any without
// the X-Enclavekit-Credentials header, are still refused before any
// credential is fetched.
func TestCredentialsRouteRefusesBrowsers(t *testing.T) {
	p := credsEnvProxy(t, credsListen(t))
	client, u := credsClient(t, p)
	get := func(host string, hdr map[string]string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		if host != "" {
			req.Host = host
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := client.Do(req)
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
		"by address":                   {"127.0.0.1:8002", ok, 200},
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

// TestCredentialsListenRefusesTCP: the enclave reaches the parent over
// vsock only, so a TCP credentials listener, loopback included, serves no
// enclave: it serves the role's credentials to every process on the
// parent, of any user (one that cannot read the credentials file, or is
// kept from IMDS). New refuses it, naming the key, its line and what to
// use instead. Were it accepted, the test shows a plain local client
// getting the credentials.
func TestCredentialsListenRefusesTCP(t *testing.T) {
	const want = "proxy: line 3: credentials.listen: tcp://127.0.0.1:0: a TCP listener serves the role's credentials " +
		"to every local process, never to the enclave (it reaches the parent over vsock only); " +
		"use vsock://any:PORT with allowed_cids for the enclave, or unix:///PATH for local tests " +
		"(mode 0600: only host-proxy's user may connect)"
	cfg, err := ParseConfig([]byte("credentials:\n  source: env\n  listen: tcp://127.0.0.1:0\n"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Environ = []string{"AWS_ACCESS_KEY_ID=AKIDROLE", "AWS_SECRET_ACCESS_KEY=role-secret"}
	cfg.Logger, _ = testLogger(t)
	p, err := New(cfg)
	if err == nil {
		if err := p.Listen(); err != nil {
			t.Fatalf("accepted, and Listen: %v", err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- p.Serve(ctx) }()
		defer func() { cancel(); <-done }()
		req, _ := http.NewRequest(http.MethodGet, "http://"+p.Addr("credentials").String()+"/credentials", nil)
		req.Header.Set(CredentialsHeader, "1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("credentials.listen tcp://127.0.0.1:0 accepted (GET: %v)", err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Fatalf("credentials.listen tcp://127.0.0.1:0 accepted: a local HTTP client got HTTP %d, secret served: %v",
			resp.StatusCode, strings.Contains(string(body), "role-secret"))
	}
	var ce *ConfigError
	if !errors.As(err, &ce) || !errors.Is(err, ErrInvalidConfig) || ce.Where != "credentials.listen" || err.Error() != want {
		t.Fatalf("error:\n%v\nwant:\n%s", err, want)
	}

	// Every TCP address, loopback or not; vsock and unix are served. (An
	// empty host is a bad address before that.)
	if _, err := New(&Config{Credentials: &CredentialsConfig{Listen: "tcp://:8002", Source: "env"}}); !errors.Is(err, ErrBadAddress) {
		t.Errorf("credentials listen tcp://:8002: %v, want ErrBadAddress", err)
	}
	for listen, wantErr := range map[string]bool{
		"tcp://0.0.0.0:8002":     true,
		"tcp://[::]:8002":        true,
		"tcp://10.0.0.5:8002":    true,
		"tcp://kms.example:8002": true,
		"tcp://127.0.0.1:8002":   true,
		"tcp://127.0.0.2:8002":   true,
		"tcp://[::1]:8002":       true,
		"tcp://localhost:8002":   true,
		"unix:///run/creds.sock": false,
		"vsock://3:8002":         false,
	} {
		cc := &CredentialsConfig{Listen: listen, Source: "env"}
		if strings.HasPrefix(listen, "vsock:") {
			cc.AllowedCIDs = []uint32{16}
		}
		_, err := New(&Config{Credentials: cc})
		if got := err != nil; got != wantErr {
			t.Errorf("credentials listen %s: %v, want error %v", listen, err, wantErr)
		}
		if wantErr && !strings.Contains(fmt.Sprint(err), "credentials.listen: "+listen+": a TCP listener") {
			t.Errorf("credentials listen %s: %v", listen, err)
		}
	}
}

// TestAgentCredentialsClient keeps the enclave agent's credentials client
// in step with the route: it gets the credentials through the checks.
func TestAgentCredentialsClient(t *testing.T) {
	p := credsEnvProxy(t, credsListen(t))
	addr := "unix://" + p.Addr("credentials").String()
	c, err := (&agent.EndpointCredentials{Addr: addr}).Retrieve(context.Background())
	if err != nil || c.AccessKeyID != "AKIDROLE" || c.SecretAccessKey != "role-secret" {
		t.Fatalf("%s: agent client: %+v, %v", addr, c.AccessKeyID, err)
	}
}
