// SPDX-License-Identifier: Apache-2.0

package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/enclavekit/enclavekit/internal/boundedfile"
	"github.com/enclavekit/enclavekit/internal/boundedfile/boundedfiletest"
)

// fakeIMDS is an IMDSv2 stand-in: a token first, then the role list and the
// role's credentials with that token.
type fakeIMDS struct {
	mu      sync.Mutex
	clock   *fakeClock
	fetches int
	fail    bool
	serial  int
}

func (f *fakeIMDS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail {
		http.Error(w, "unavailable", http.StatusInternalServerError)
		return
	}
	if r.Method == http.MethodPut && r.URL.Path == "/latest/api/token" {
		if r.Header.Get("X-aws-ec2-metadata-token-ttl-seconds") == "" {
			http.Error(w, "missing ttl", http.StatusBadRequest)
			return
		}
		_, _ = io.WriteString(w, "TOKEN")
		return
	}
	if r.Header.Get("X-aws-ec2-metadata-token") != "TOKEN" {
		http.Error(w, "IMDSv1 refused", http.StatusUnauthorized)
		return
	}
	switch r.URL.Path {
	case "/latest/meta-data/iam/security-credentials/":
		_, _ = io.WriteString(w, "parent-role\n")
	case "/latest/meta-data/iam/security-credentials/parent-role":
		f.fetches++
		f.serial++
		_ = json.NewEncoder(w).Encode(map[string]string{
			"Code": "Success", "Type": "AWS-HMAC", "LastUpdated": f.clock.Now().Format(time.RFC3339),
			"AccessKeyId":     "ASIAEXAMPLE" + itoa(f.serial),
			"SecretAccessKey": "s3cr3t-" + itoa(f.serial),
			"Token":           "session-token-" + itoa(f.serial),
			"Expiration":      f.clock.Now().Add(time.Hour).Format(time.RFC3339),
		})
	default:
		http.NotFound(w, r)
	}
}

// credsListen returns a unix:// address in a temporary directory for a
// credentials route (the route refuses TCP).
func credsListen(t testing.TB) string {
	t.Helper()
	return "unix://" + filepath.Join(t.TempDir(), "creds.sock")
}

// credsClient returns an HTTP client connecting to p's credentials route
// (a unix socket) and the route's URL, which names localhost in Host.
func credsClient(t testing.TB, p *Proxy) (*http.Client, string) {
	t.Helper()
	path := p.Addr("credentials").String()
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	}}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}, "http://localhost/credentials"
}

func getCreds(t *testing.T, p *Proxy) (int, Credentials) {
	t.Helper()
	client, u := credsClient(t, p)
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.Header.Set(CredentialsHeader, "1")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var c Credentials
	if resp.StatusCode == 200 {
		if err := json.NewDecoder(resp.Body).Decode(&c); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode, c
}

func TestCredentialsIMDS(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	imds := &fakeIMDS{clock: clock}
	srv := httptest.NewServer(imds)
	defer srv.Close()
	log, logs := testLogger(t)
	p, _ := startProxy(t, &Config{Logger: log, Clock: clock.Now, Credentials: &CredentialsConfig{
		Listen: credsListen(t), Source: "imds", IMDSURL: srv.URL, RefreshBefore: 10 * time.Minute}})

	code, c := getCreds(t, p)
	if code != 200 || c.AccessKeyID != "ASIAEXAMPLE1" || c.SecretAccessKey != "s3cr3t-1" || c.Token != "session-token-1" ||
		!c.Expiration.Equal(clock.Now().Add(time.Hour)) {
		t.Fatalf("GET /credentials: %d %+v", code, c)
	}
	// Cached until RefreshBefore the expiry...
	clock.Advance(49 * time.Minute)
	if _, c := getCreds(t, p); c.AccessKeyID != "ASIAEXAMPLE1" || imds.fetches != 1 {
		t.Fatalf("refreshed too early: %+v after %d fetches", c, imds.fetches)
	}
	// ...then fetched again.
	clock.Advance(2 * time.Minute)
	if _, c := getCreds(t, p); c.AccessKeyID != "ASIAEXAMPLE2" {
		t.Fatalf("not refreshed before expiry: %+v", c)
	}
	// IMDS down: the cached credentials are served while still valid.
	imds.mu.Lock()
	imds.fail = true
	imds.mu.Unlock()
	clock.Advance(55 * time.Minute) // 4 minutes left
	if code, c := getCreds(t, p); code != 200 || c.AccessKeyID != "ASIAEXAMPLE2" {
		t.Fatalf("cached credentials not served during an IMDS outage: %d %+v", code, c)
	}
	clock.Advance(5 * time.Minute) // expired
	if code, _ := getCreds(t, p); code != http.StatusServiceUnavailable {
		t.Fatalf("expired credentials served: %d", code)
	}
	waitMetric(t, p.m.creds.WithLabelValues("error"), 1)
	// Other paths and methods.
	client, u := credsClient(t, p)
	resp, err := client.Post(u, "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", resp.StatusCode)
	}
	if !logged(logs, "ASIAEXAMPLE2") {
		t.Errorf("log does not name the access key ID")
	}
	// Never logged.
	p.FlushLogs(time.Minute)
	for _, secret := range []string{"s3cr3t-1", "s3cr3t-2", "session-token-1", "session-token-2"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("log contains the secret %q", secret)
		}
	}
}

func TestCredentialsFileAndEnv(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "creds.json")
	if err := os.WriteFile(file, []byte(`{"AccessKeyId":"AKIAFILE","SecretAccessKey":"file-secret"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	log, _ := testLogger(t)
	p, _ := startProxy(t, &Config{Logger: log, Credentials: &CredentialsConfig{Listen: credsListen(t), Source: "file", File: file}})
	if code, c := getCreds(t, p); code != 200 || c.AccessKeyID != "AKIAFILE" || c.SecretAccessKey != "file-secret" {
		t.Fatalf("file: %d %+v", code, c)
	}

	p2, _ := startProxy(t, &Config{Logger: log, Environ: []string{"AWS_ACCESS_KEY_ID=AKIAENV", "AWS_SECRET_ACCESS_KEY=env-secret", "AWS_SESSION_TOKEN=tok"},
		Credentials: &CredentialsConfig{Listen: credsListen(t), Source: "env"}})
	if code, c := getCreds(t, p2); code != 200 || c.AccessKeyID != "AKIAENV" || c.Token != "tok" || !c.Expiration.IsZero() {
		t.Fatalf("env: %d %+v", code, c)
	}

	if _, err := envCredentials([]string{"AWS_ACCESS_KEY_ID=x"}); err == nil || !strings.Contains(err.Error(), "AWS_SECRET_ACCESS_KEY") {
		t.Errorf("env without secret: %v", err)
	}
	bad := filepath.Join(dir, "bad.json")
	_ = os.WriteFile(bad, []byte(`{"AccessKeyId":"AKIA","SecretAccessKey":"hunter2",`), 0o600)
	if _, err := fileCredentials(bad); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("malformed file: %v", err)
	}
	// A directory or a huge file is refused without being read.
	if _, err := fileCredentials(dir); !errors.Is(err, boundedfile.ErrNotRegular) {
		t.Errorf("directory: %v, want boundedfile.ErrNotRegular", err)
	}
	huge := boundedfiletest.Sparse(t, filepath.Join(dir, "huge.json"), boundedfiletest.Huge)
	if _, err := fileCredentials(huge); !errors.Is(err, boundedfile.ErrTooLarge) || !strings.Contains(err.Error(), "huge.json: larger than 1 MiB") {
		t.Errorf("huge file: %v, want boundedfile.ErrTooLarge", err)
	}
}

func TestCredentialsRedacted(t *testing.T) {
	c := Credentials{AccessKeyID: "AKIA", SecretAccessKey: "topsecret", Token: "tok3n"}
	for _, s := range []string{c.String(), c.LogValue().String()} {
		if strings.Contains(s, "topsecret") || strings.Contains(s, "tok3n") {
			t.Errorf("not redacted: %s", s)
		}
	}
	log, _ := testLogger(t)
	m, _ := newMetrics(prometheusRegistry())
	cc, _ := newCredCache(&CredentialsConfig{Source: "env"}, time.Now, []string{}, log, m)
	if _, err := cc.get(t.Context()); !errors.Is(err, ErrCredentials) {
		t.Errorf("no credentials: %v, want ErrCredentials", err)
	}
}

// TestFileCredentialsRefusesGroupOrOtherReadable: source "file" serves the
// role's secret, so a credentials file any other local user (or group)
// can read is refused, with the mode and the chmod that fixes it; 0600
// and 0400 are served.
func TestFileCredentialsRefusesGroupOrOtherReadable(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no unix file modes")
	}
	dir := t.TempDir()
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o660, 0o620, 0o602, 0o610, 0o601} {
		p := filepath.Join(dir, fmt.Sprintf("creds-%o.json", mode))
		if err := os.WriteFile(p, []byte(`{"AccessKeyId":"AKIAEXAMPLE","SecretAccessKey":"s3cr3t"}`), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil { // not the umask's choice
			t.Fatal(err)
		}
		_, err := fileCredentials(p)
		var me *CredentialsFileModeError
		if !errors.As(err, &me) || me.Mode != mode || me.Path != p || !errors.Is(err, ErrCredentialsFileMode) {
			t.Errorf("mode %o: %v, want a *CredentialsFileModeError matching ErrCredentialsFileMode", mode, err)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, fmt.Sprintf("%04o", mode)) || !strings.Contains(msg, "chmod 600") || strings.Contains(msg, "s3cr3t") {
			t.Errorf("mode %o: message %q does not name the mode and the fix (or quotes the secret)", mode, msg)
		}
	}
	for _, mode := range []os.FileMode{0o600, 0o400} {
		p := filepath.Join(dir, fmt.Sprintf("ok-%o.json", mode))
		if err := os.WriteFile(p, []byte(`{"AccessKeyId":"AKIAEXAMPLE","SecretAccessKey":"s3cr3t"}`), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		if c, err := fileCredentials(p); err != nil || c.AccessKeyID != "AKIAEXAMPLE" {
			t.Errorf("mode %o: %+v, %v", mode, c, err)
		}
	}
}

// TestCredentialsFileModeErrorThroughRoute: the refusal reaches the
// credentials route's caller as ErrCredentials, and the log says why.
func TestCredentialsFileModeErrorThroughRoute(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no unix file modes")
	}
	p := filepath.Join(t.TempDir(), "creds.json")
	if err := os.WriteFile(p, []byte(`{"AccessKeyId":"AKIAEXAMPLE","SecretAccessKey":"s3cr3t"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	log, _ := testLogger(t)
	m, _ := newMetrics(prometheusRegistry())
	cc, _ := newCredCache(&CredentialsConfig{Source: "file", File: p}, time.Now, nil, log, m)
	if _, err := cc.get(t.Context()); !errors.Is(err, ErrCredentials) || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("get: %v, want ErrCredentials naming chmod 600", err)
	}
}
