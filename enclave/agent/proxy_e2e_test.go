// SPDX-License-Identifier: Apache-2.0

package agent

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/enclavekit/enclavekit/enclave/emulator"
	"github.com/enclavekit/enclavekit/host/kmsserver"
	"github.com/enclavekit/enclavekit/host/kmsserver/keystore"
	"github.com/enclavekit/enclavekit/host/proxy"
	"github.com/enclavekit/enclavekit/internal/nitroca"
)

// TestThroughHostProxy runs the production shape on one machine: the agent
// dials the host-proxy's egress route (a unix socket standing in for
// vsock), which forwards to kms-server over TCP after the allow-list check,
// and fetches its credentials from the host-proxy's credentials route.
func TestThroughHostProxy(t *testing.T) {
	root, err := nitroca.NewRoot(rand.Reader, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	store, err := keystore.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	srv, err := kmsserver.NewServer(&kmsserver.Config{
		Store: store, RootKey: bytes.Repeat([]byte{5}, 32),
		AccessKeys: map[string]kmsserver.AccessKey{
			adminAKID:   {Secret: adminSecret, PrincipalARN: adminARN, Policy: kmsserver.FullAccessPolicy},
			enclaveAKID: {Secret: enclaveSecret, PrincipalARN: enclaveARN, Policy: kmsserver.FullAccessPolicy},
		},
		AttestationRoots: []*x509.Certificate{root.Cert},
	})
	if err != nil {
		t.Fatal(err)
	}
	kln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: srv.Handler()}
	go hs.Serve(kln)
	defer hs.Close()
	kmsPort := kln.Addr().(*net.TCPAddr).Port

	dir, err := os.MkdirTemp("", "ekp")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	egress, creds := filepath.Join(dir, "kms.sock"), filepath.Join(dir, "creds.sock")
	p, err := proxy.New(&proxy.Config{
		AllowList: []proxy.AllowEntry{{Address: "127.0.0.1", Port: kmsPort}},
		Routes: []proxy.Route{{Name: "kms", Direction: proxy.Egress, Listen: "unix://" + egress,
			Destination: "tcp://127.0.0.1:" + strconv.Itoa(kmsPort)}},
		Credentials: &proxy.CredentialsConfig{Listen: "unix://" + creds, Source: "env"},
		Environ:     []string{"AWS_ACCESS_KEY_ID=" + enclaveAKID, "AWS_SECRET_ACCESS_KEY=" + enclaveSecret},
		Logger:      slog.New(slog.DiscardHandler),
		// The test's clients keep idle connections: do not wait for them.
		ShutdownTimeout: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatalf("proxy.New: %v", err)
	}
	if err := p.Listen(); err != nil {
		t.Fatalf("proxy Listen: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Serve(ctx) }()
	defer func() { cancel(); <-done }()

	env := &e2eEnv{root: root, endpoint: "http://kms.local", proxy: "unix://" + egress}
	admin := env.admin(t)
	img := image("proxied image")
	policy := `{"Version":"2012-10-17","Statement":[
	 {"Sid":"Admin","Effect":"Allow","Principal":{"AWS":"` + adminARN + `"},"Action":"kms:*","Resource":"*"},
	 {"Sid":"Enclave","Effect":"Allow","Principal":{"AWS":"` + enclaveARN + `"},"Action":["kms:GenerateDataKey","kms:Decrypt"],"Resource":"*",
	  "Condition":{"StringEqualsIgnoreCase":{"kms:RecipientAttestation:PCR0":"` + hex.EncodeToString(img) + `"}}}]}`
	ck, err := admin.CreateKey(ctx, &awskms.CreateKeyInput{Policy: aws.String(policy)})
	if err != nil {
		t.Fatalf("CreateKey through the proxy: %v", err)
	}
	emu, err := emulator.New(&emulator.Config{PCRs: map[int][]byte{0: img}, Root: root, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer emu.Close()
	c, err := New(&Config{NSM: emu, Region: "us-east-1", Endpoint: "http://kms.local", InsecureHTTPUnsafe: true, Proxy: "unix://" + egress,
		Credentials: &EndpointCredentials{Addr: "unix://" + creds}, KMSAccount: "111122223333", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	dk, err := c.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: ck.KeyMetadata.KeyId, KeySpec: "AES_256"})
	if err != nil {
		t.Fatalf("GenerateDataKey through the host-proxy: %v", err)
	}
	ref, err := admin.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: dk.CiphertextBlob})
	if err != nil || !bytes.Equal(ref.Plaintext, dk.Plaintext) {
		t.Fatalf("plaintext differs from kms-server's Decrypt: %v", err)
	}
}
