// SPDX-License-Identifier: Apache-2.0

package kmsconfig

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/enclavekit/enclavekit/host/kmsserver"
	"github.com/enclavekit/enclavekit/internal/sdkhttp"
)

func caPool(t *testing.T, path string) *x509.CertPool {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(b) {
		t.Fatalf("%s: no certificate", path)
	}
	return p
}

// TestStarterServesTLS: the starter's kms-server speaks HTTPS with a
// certificate its development CA vouches for, TLS 1.2 at least, and takes
// a renewed certificate on Reload without dropping open connections.
func TestStarterServesTLS(t *testing.T) {
	dir := t.TempDir()
	st, err := WriteStarter(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(st.TLSKeyPath); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("TLS key file: %v %v", fi.Mode(), err)
	}
	f, err := Load(st.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	store, err := f.OpenStore(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	cfg, err := f.ServerConfig(store, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.TLSConfig == nil || cfg.TLSConfig.MinVersion != tls.VersionTLS12 {
		t.Fatalf("TLS config %+v", cfg.TLSConfig)
	}
	cfg.Listen, cfg.MetricsListen = "127.0.0.1:0", ""
	srv, err := kmsserver.NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	defer func() { cancel(); <-done }()
	url := "https://" + srv.Addr("kms").String()

	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: caPool(t, st.TLSCAPath)}}
	hc := &http.Client{Transport: tr}
	client := awskms.NewFromConfig(aws.Config{Region: "us-east-1", HTTPClient: sdkhttp.New(hc),
		Credentials: credentials.NewStaticCredentialsProvider(st.AccessKeyID, st.Secret, "")},
		func(o *awskms.Options) { o.BaseEndpoint = aws.String(url) })
	if _, err := client.CreateKey(ctx, &awskms.CreateKeyInput{}); err != nil {
		t.Fatalf("CreateKey over HTTPS: %v", err)
	}

	// TLS 1.1 and below are refused.
	old := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: caPool(t, st.TLSCAPath), MaxVersion: tls.VersionTLS11}}}
	if resp, err := old.Get(url); err == nil {
		resp.Body.Close()
		t.Fatal("a TLS 1.1 client connected")
	}
	// An unknown CA is refused by the client, as it should be.
	if resp, err := http.Get(url); err == nil {
		resp.Body.Close()
		t.Fatal("the development certificate verified against the system roots")
	}

	// Renewal: a new CA and certificate in place, then Reload. The open
	// keep-alive connection keeps working; a new one gets the new pair.
	newCA := filepath.Join(t.TempDir(), "new-ca.pem")
	if err := writeDevTLS(rand.Reader, time.Now(), newCA, st.TLSCertPath+".new", st.TLSKeyPath+".new"); err != nil {
		t.Fatal(err)
	}
	os.Rename(st.TLSCertPath+".new", st.TLSCertPath)
	os.Rename(st.TLSKeyPath+".new", st.TLSKeyPath)
	cert, err := f.Certificate()
	if err != nil {
		t.Fatal(err)
	}
	if err := cert.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, err := client.ListKeys(ctx, &awskms.ListKeysInput{}); err != nil {
		t.Fatalf("the open connection after Reload: %v", err)
	}
	fresh := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: caPool(t, newCA)}}}
	resp, err := fresh.Post(url, "application/x-amz-json-1.1", nil)
	if err != nil {
		t.Fatalf("a new connection does not get the renewed certificate: %v", err)
	}
	resp.Body.Close()

	// A broken pair leaves the current one in place.
	os.WriteFile(st.TLSKeyPath, []byte("not a key"), 0o600)
	if err := cert.Reload(); !errors.Is(err, ErrConfig) {
		t.Fatalf("Reload of a broken key: %v", err)
	}
	resp, err = (&http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: caPool(t, newCA)}}}).Post(url, "application/x-amz-json-1.1", nil)
	if err != nil {
		t.Fatalf("after a failed Reload: %v", err)
	}
	resp.Body.Close()
}
