// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/enclavekit/enclavekit/attestation"
	"github.com/enclavekit/enclavekit/host/kmsserver"
	"github.com/enclavekit/enclavekit/host/kmsserver/keystore"
	"github.com/enclavekit/enclavekit/internal/nitroca"
	"github.com/enclavekit/enclavekit/internal/sdkhttp"
	"github.com/enclavekit/enclavekit/internal/transport"
)

const (
	pcr0Hex     = "8f0d145c0368ad6b70be22e41c400eea91b971d96ba220fec9fae25a58dffdaaf72dbe8f6783d55128c9df4efaf6f8a7"
	adminAKID   = "AKIAENCLAVEKITADMIN1"
	adminSecret = "admin-secret-access-key-for-tests-000000"
	roleAKID    = "AKIAENCLAVEKITROLE01"
	roleSecret  = "enclave-secret-access-key-for-tests-0000"
)

type cliEnv struct {
	dir, sock, keyID string
	admin            *awskms.Client
	env              map[string]string
}

// startKMS serves a real kms-server on a unix socket, trusting the
// emulator root kept in dir/state, with a key pinned to pcr0Hex.
func startKMS(t *testing.T) *cliEnv {
	t.Helper()
	dir, err := os.MkdirTemp("", "ekc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	state := filepath.Join(dir, "state")
	if err := os.Mkdir(state, 0o700); err != nil {
		t.Fatal(err)
	}
	root, err := nitroca.LoadOrCreateRoot(filepath.Join(state, "root.pem"), filepath.Join(state, "root.key"), rand.Reader, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	store, err := keystore.OpenDir(filepath.Join(dir, "keys"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	srv, err := kmsserver.NewServer(&kmsserver.Config{
		Store: store, RootKey: bytes.Repeat([]byte{3}, 32),
		AccessKeys: map[string]kmsserver.AccessKey{
			adminAKID: {Secret: adminSecret, PrincipalARN: "arn:aws:iam::111122223333:user/admin", Policy: kmsserver.FullAccessPolicy},
			roleAKID:  {Secret: roleSecret, PrincipalARN: "arn:aws:iam::111122223333:role/enclave", Policy: kmsserver.FullAccessPolicy},
		},
		AttestationRoots: []*x509.Certificate{root.Cert},
	})
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "kms.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: srv.Handler()}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })

	addr, _ := transport.ParseAddr("unix://" + sock)
	admin := awskms.NewFromConfig(aws.Config{
		Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider(adminAKID, adminSecret, ""),
		HTTPClient: sdkhttp.New(&http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return transport.Dial(ctx, addr)
		}}}),
	}, func(o *awskms.Options) { o.BaseEndpoint = aws.String("http://kms.local") })
	policy := `{"Version":"2012-10-17","Statement":[
	 {"Sid":"Admin","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/admin"},"Action":"kms:*","Resource":"*"},
	 {"Sid":"Enclave","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/enclave"},"Action":["kms:Decrypt","kms:GenerateDataKey"],"Resource":"*",
	  "Condition":{"StringEqualsIgnoreCase":{"kms:RecipientAttestation:ImageSha384":"` + pcr0Hex + `"}}}]}`
	ck, err := admin.CreateKey(context.Background(), &awskms.CreateKeyInput{Policy: aws.String(policy)})
	if err != nil {
		t.Fatal(err)
	}
	return &cliEnv{dir: dir, sock: sock, keyID: *ck.KeyMetadata.KeyId, admin: admin,
		env: map[string]string{"AWS_ACCESS_KEY_ID": roleAKID, "AWS_SECRET_ACCESS_KEY": roleSecret, "AWS_REGION": "us-east-1"}}
}

func (e *cliEnv) globalArgs(pcr0 string) []string {
	return []string{"--nsm", "emulator", "--emulator-state", filepath.Join(e.dir, "state"), "--pcr0", pcr0,
		"--kms-endpoint", "http://kms.local", "--insecure-http-unsafe", "--proxy", "unix://" + e.sock}
}

func (e *cliEnv) run(t *testing.T, ctx context.Context, args ...string) (int, string, string) {
	t.Helper()
	return e.runClock(t, ctx, realClock{}, args...)
}

// runClock is run with serve's start-up fetch waiting on clk.
func (e *cliEnv) runClock(t *testing.T, ctx context.Context, clk clock, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := runWith(ctx, args, strings.NewReader(""), &stdout, &stderr, func(k string) string { return e.env[k] }, clk)
	return code, stdout.String(), stderr.String()
}

func TestKMSCommands(t *testing.T) {
	e := startKMS(t)
	ctx := context.Background()
	g := e.globalArgs(pcr0Hex)

	// genkey, JSON on stdout
	code, out, errOut := e.run(t, ctx, append(g, "genkey", "--key-id", e.keyID)...)
	if code != 0 {
		t.Fatalf("genkey: exit %d: %s", code, errOut)
	}
	var gk struct{ KeyId, CiphertextBlob, Plaintext string }
	if err := json.Unmarshal([]byte(out), &gk); err != nil {
		t.Fatalf("genkey output %q: %v", out, err)
	}
	blob, _ := base64.StdEncoding.DecodeString(gk.CiphertextBlob)
	pt, _ := base64.StdEncoding.DecodeString(gk.Plaintext)
	ref, err := e.admin.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: blob})
	if err != nil || !bytes.Equal(ref.Plaintext, pt) || len(pt) != 32 {
		t.Fatalf("genkey plaintext differs from kms-server's Decrypt: %v", err)
	}

	// genkey raw to files (0600), then decrypt from the ciphertext file
	keyFile, ctFile := filepath.Join(e.dir, "key.bin"), filepath.Join(e.dir, "key.ct")
	code, out, errOut = e.run(t, ctx, append(g, "genkey", "--key-id", e.keyID, "--bytes", "24", "--format", "raw", "--out", keyFile, "--ciphertext-out", ctFile)...)
	if code != 0 || out != "" {
		t.Fatalf("genkey raw: exit %d, stdout %q: %s", code, out, errOut)
	}
	for _, f := range []string{keyFile, ctFile} {
		fi, err := os.Stat(f)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v", f, fi, err)
		}
	}
	raw, _ := os.ReadFile(keyFile)
	if len(raw) != 24 {
		t.Fatalf("raw key is %d bytes", len(raw))
	}
	code, out, errOut = e.run(t, ctx, append(g, "decrypt", "--ciphertext-file", ctFile, "--key-id", e.keyID)...)
	if code != 0 {
		t.Fatalf("decrypt: exit %d: %s", code, errOut)
	}
	var dec struct{ KeyId, EncryptionAlgorithm, Plaintext string }
	_ = json.Unmarshal([]byte(out), &dec)
	if got, _ := base64.StdEncoding.DecodeString(dec.Plaintext); !bytes.Equal(got, raw) || dec.EncryptionAlgorithm != "SYMMETRIC_DEFAULT" {
		t.Fatalf("decrypt output %q", out)
	}
	ctB64 := base64.StdEncoding.EncodeToString(blob)
	code, out, _ = e.run(t, ctx, append(g, "decrypt", "--ciphertext", ctB64, "--key-id", e.keyID)...)
	if code != 0 || !strings.Contains(out, gk.Plaintext) {
		t.Fatalf("decrypt --ciphertext: %d %q", code, out)
	}

	// genrandom
	code, out, errOut = e.run(t, ctx, append(g, "genrandom", "--length", "16")...)
	var gr struct{ Plaintext string }
	_ = json.Unmarshal([]byte(out), &gr)
	if r, _ := base64.StdEncoding.DecodeString(gr.Plaintext); code != 0 || len(r) != 16 {
		t.Fatalf("genrandom: %d %q %s", code, out, errOut)
	}

	// another image: denied, exit 1, the reason on stderr
	other := "b1c16eb7634112b7c9d5ebd27e62a2d4528bbfcfd68b62d3afd9ecf98e0f413a84314acce78317fb69fd895155343e09"
	code, out, errOut = e.run(t, ctx, append(e.globalArgs(other), "genkey", "--key-id", e.keyID)...)
	if code != 1 || out != "" || !strings.Contains(errOut, "AccessDeniedException") || !strings.Contains(errOut, "ImageSha384") {
		t.Fatalf("genkey from another image: exit %d, stdout %q, stderr %s", code, out, errOut)
	}

	// --kms-account: the server's account answers; another account (the
	// parent handing in credentials for its own account) is refused, exit 1.
	code, _, errOut = e.run(t, ctx, append(g, "--kms-account", "111122223333", "genkey", "--key-id", e.keyID)...)
	if code != 0 {
		t.Fatalf("genkey --kms-account (the server's): exit %d: %s", code, errOut)
	}
	code, out, errOut = e.run(t, ctx, append(g, "--kms-account", "444455556666", "genkey", "--key-id", e.keyID)...)
	if code != 1 || out != "" || !strings.Contains(errOut, "444455556666") || !strings.Contains(errOut, "--kms-account") {
		t.Fatalf("genkey --kms-account (another): exit %d, stdout %q, stderr %s", code, out, errOut)
	}

	// usage errors: exit 2
	for _, args := range [][]string{
		append(g, "--kms-account", "1234", "genrandom"),
		append(g, "genkey"),
		append(g, "genkey", "--key-id", "x", "--format", "raw"),
		append(g, "genkey", "--key-id", "x", "--format", "raw", "--out", keyFile),
		append(g, "genkey", "--key-id", "x", "--key-spec", "AES_256", "--bytes", "3"),
		append(g, "decrypt"),
		append(g, "genrandom", "--length", "0"),
		append(g, "serve"),
	} {
		if code, _, errOut := e.run(t, ctx, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", args[len(g):], code, errOut)
		}
	}
	noCreds := &cliEnv{dir: e.dir, sock: e.sock, env: map[string]string{"AWS_REGION": "us-east-1"}}
	if code, _, errOut := noCreds.run(t, ctx, append(g, "genrandom")...); code != 2 || !strings.Contains(errOut, "no credentials") {
		t.Errorf("without credentials: %d %s", code, errOut)
	}
}

func TestServeCommand(t *testing.T) {
	e := startKMS(t)
	agentSock := filepath.Join(e.dir, "agent.sock")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var code int
	var stderr string
	go func() {
		code, _, stderr = e.run(t, ctx, append(e.globalArgs(pcr0Hex), "serve", "--listen", "unix://"+agentSock, "--key-id", e.keyID)...)
		close(done)
	}()
	addr, _ := transport.ParseAddr("unix://" + agentSock)
	client := &http.Client{Timeout: waitLimit, Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return transport.Dial(ctx, addr)
	}}}
	deadline := time.Now().Add(waitLimit)
	for {
		resp, err := client.Get("http://agent/v1/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		select {
		case <-done:
			t.Fatalf("serve exited %d: %s", code, stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("serve did not become healthy")
		}
		time.Sleep(50 * time.Millisecond)
	}
	resp, err := client.Post("http://agent/v1/attestation", "application/json", strings.NewReader(`{"nonce":"c0ffee"}`))
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	root, err := nitroca.LoadRoot(filepath.Join(e.dir, "state", "root.pem"), filepath.Join(e.dir, "state", "root.key"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := attestation.Verify(doc, attestation.Options{Roots: []*x509.Certificate{root.Cert}, Nonce: []byte{0xc0, 0xff, 0xee}}); err != nil {
		t.Fatalf("document from serve: %v", err)
	}
	cancel()
	<-done
	if code != 0 {
		t.Fatalf("serve exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "data key fetched with Recipient") || !strings.Contains(stderr, "attestation endpoint stopped") || strings.Contains(stderr, "Plaintext\"") {
		t.Fatalf("serve log: %s", stderr)
	}
}

// TestDecryptKeyIDRequired: the parent swaps the stored CiphertextBlob for
// one it made (no Recipient) under another key its role may use. decrypt
// without --key-id is a usage error (exit 2, a hint, nothing on stdout,
// nothing sent); with --key-id the key service refuses the swapped blob
// (exit 1) and opens the enclave's own.
func TestDecryptKeyIDRequired(t *testing.T) {
	e := startKMS(t)
	ctx := context.Background()
	g := append(e.globalArgs(pcr0Hex), "--kms-account", "111122223333")
	stored := filepath.Join(e.dir, "data.key.blob")
	code, out, errOut := e.run(t, ctx, append(g, "genkey", "--key-id", e.keyID, "--ciphertext-out", stored)...)
	if code != 0 {
		t.Fatalf("genkey: exit %d: %s", code, errOut)
	}
	var gk struct{ KeyId, Plaintext string }
	if err := json.Unmarshal([]byte(out), &gk); err != nil {
		t.Fatal(err)
	}
	// The parent: the role's credentials, another key of the account.
	other, err := e.admin.CreateKey(ctx, &awskms.CreateKeyInput{Description: aws.String("the role's everyday key")})
	if err != nil {
		t.Fatal(err)
	}
	parent := awskms.New(e.admin.Options(), func(o *awskms.Options) {
		o.Credentials = credentials.NewStaticCredentialsProvider(roleAKID, roleSecret, "")
	})
	mine, err := parent.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: other.KeyMetadata.KeyId, KeySpec: "AES_256"})
	if err != nil {
		t.Fatalf("the parent's GenerateDataKey: %v", err)
	}
	swapped := filepath.Join(e.dir, "swapped.blob")
	if err := os.WriteFile(swapped, mine.CiphertextBlob, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"decrypt", "--ciphertext-file", swapped},
		{"decrypt", "--ciphertext-file", swapped, "--key-id", ""},
		{"decrypt", "--ciphertext", base64.StdEncoding.EncodeToString(mine.CiphertextBlob)},
	} {
		code, out, errOut := e.run(t, ctx, append(g, args...)...)
		if code != 2 || out != "" || !strings.Contains(errOut, "enclave-agent: error: decrypt: --key-id is required") ||
			!strings.Contains(errOut, "enclave-agent: hint: give --key-id KEY_ARN") {
			t.Errorf("%v: exit %d, stdout %q, stderr %s; want exit 2 naming --key-id with a hint", args, code, out, errOut)
		}
	}
	// With the key named: the swapped blob is refused, the stored one opens.
	code, out, errOut = e.run(t, ctx, append(g, "decrypt", "--ciphertext-file", swapped, "--key-id", gk.KeyId)...)
	if code != 1 || out != "" || !strings.Contains(errOut, "IncorrectKeyException") {
		t.Fatalf("decrypt of the swapped blob with --key-id: exit %d, stdout %q, stderr %s; want IncorrectKeyException", code, out, errOut)
	}
	code, out, errOut = e.run(t, ctx, append(g, "decrypt", "--ciphertext-file", stored, "--key-id", gk.KeyId)...)
	var dec struct{ KeyId, Plaintext string }
	if code != 0 || json.Unmarshal([]byte(out), &dec) != nil || dec.Plaintext != gk.Plaintext || dec.KeyId != gk.KeyId {
		t.Fatalf("decrypt of the stored blob with --key-id: exit %d, stdout %q, stderr %s", code, out, errOut)
	}
}
