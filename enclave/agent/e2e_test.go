// SPDX-License-Identifier: Apache-2.0

package agent

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"log/slog"
	"math/big"
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
	"github.com/aws/smithy-go"

	"github.com/enclavekit/enclavekit/enclave/emulator"
	"github.com/enclavekit/enclavekit/host/kmsserver"
	"github.com/enclavekit/enclavekit/host/kmsserver/keystore"
	"github.com/enclavekit/enclavekit/internal/nitroca"
	"github.com/enclavekit/enclavekit/internal/sdkhttp"
	"github.com/enclavekit/enclavekit/internal/transport"
)

const (
	adminAKID     = "AKIAENCLAVEKITADMIN1"
	adminSecret   = "admin-secret-access-key-for-tests-000000"
	adminARN      = "arn:aws:iam::111122223333:user/admin"
	enclaveAKID   = "AKIAENCLAVEKITROLE01"
	enclaveSecret = "enclave-secret-access-key-for-tests-0000"
	enclaveARN    = "arn:aws:iam::111122223333:role/enclave"
)

func image(name string) []byte {
	d := sha512.Sum384([]byte(name))
	return d[:]
}

// e2eEnv is a real kms-server (host/kms) served in-process on a transport
// address, trusting one emulator root.
type e2eEnv struct {
	root     *nitroca.Root
	endpoint string // base URL the clients use
	proxy    string // transport address every connection is dialled to
	tls      *tls.Config
}

func startKMSServer(t testing.TB, network string) *e2eEnv {
	t.Helper()
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
		Store:   store,
		RootKey: bytes.Repeat([]byte{9}, 32),
		AccessKeys: map[string]kmsserver.AccessKey{
			adminAKID:   {Secret: adminSecret, PrincipalARN: adminARN, Policy: kmsserver.FullAccessPolicy},
			enclaveAKID: {Secret: enclaveSecret, PrincipalARN: enclaveARN, Policy: kmsserver.FullAccessPolicy},
		},
		AccountID:        "111122223333",
		AttestationRoots: []*x509.Certificate{root.Cert},
	})
	if err != nil {
		t.Fatal(err)
	}
	env := &e2eEnv{root: root}
	var ln net.Listener
	switch network {
	case "tcp", "tls":
		ln, err = net.Listen("tcp", "127.0.0.1:0")
		env.proxy = "tcp://" + ln.Addr().String()
		env.endpoint = "http://" + ln.Addr().String()
	case "unix":
		dir, derr := os.MkdirTemp("", "ek")
		if derr != nil {
			t.Fatal(derr)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		sock := filepath.Join(dir, "kms.sock")
		ln, err = net.Listen("unix", sock)
		env.proxy = "unix://" + sock
		env.endpoint = "http://kms-server.local"
	}
	if err != nil {
		t.Fatal(err)
	}
	if network == "tls" {
		// As against real AWS KMS: the endpoint names the regional host, the
		// connection goes to the proxy address, TLS runs end to end.
		env.endpoint = "https://kms.us-east-1.amazonaws.com"
		cert, pool := selfSigned(t, "kms.us-east-1.amazonaws.com")
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
		env.tls = &tls.Config{RootCAs: pool}
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	return env
}

func selfSigned(t testing.TB, name string) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(c)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

// admin is a plain SDK client (no Recipient) dialling through the same
// transport address.
func (env *e2eEnv) admin(t testing.TB) *awskms.Client {
	t.Helper()
	addr, err := transport.ParseAddr(env.proxy)
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) { return transport.Dial(ctx, addr) }}
	if env.tls != nil {
		tr.TLSClientConfig = env.tls
	}
	return awskms.NewFromConfig(aws.Config{
		Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider(adminAKID, adminSecret, ""),
		HTTPClient: sdkhttp.New(&http.Client{Transport: tr}), Retryer: func() aws.Retryer { return aws.NopRetryer{} },
	}, func(o *awskms.Options) { o.BaseEndpoint = aws.String(env.endpoint) })
}

// agentFor starts an emulator running the given image (trusted by the
// server) and an agent client on it.
func (env *e2eEnv) agentFor(t testing.TB, pcr0 []byte) *Client {
	t.Helper()
	emu, err := emulator.New(&emulator.Config{PCRs: map[int][]byte{0: pcr0, 1: image("pcr1"), 2: image("pcr2")}, Root: env.root, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	endpoint := env.endpoint
	if env.tls != nil {
		endpoint = "" // the default: https://kms.us-east-1.amazonaws.com, as against real AWS KMS
	}
	c, err := New(&Config{
		NSM: emu, Region: "us-east-1", Endpoint: endpoint, Proxy: env.proxy, TLS: env.tls,
		InsecureHTTPUnsafe: strings.HasPrefix(endpoint, "http://"),
		Credentials:        EnvCredentials{Getenv: envMap{"AWS_ACCESS_KEY_ID": enclaveAKID, "AWS_SECRET_ACCESS_KEY": enclaveSecret}.get},
		Logger:             slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

type envMap map[string]string

func (m envMap) get(k string) string { return m[k] }

func wantAccessDenied(t *testing.T, err error, what string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "AccessDeniedException" {
		t.Fatalf("%s: %v, want AccessDeniedException", what, err)
	}
	if msg := ae.ErrorMessage(); !strings.Contains(msg, "ImageSha384") && !strings.Contains(msg, "PCR0") {
		t.Fatalf("%s: denial does not name PCR0/ImageSha384: %s", what, msg)
	}
}

// TestEndToEnd: agent (emulator NSM) → real kms-server over TCP, a unix
// socket, and TLS with the AWS server name → CiphertextForRecipient →
// plaintext in the agent equal to what kms-server's Decrypt without
// Recipient returns for the same CiphertextBlob; a key policy pinning
// ImageSha384 admits the right image and denies another.
func TestEndToEnd(t *testing.T) {
	for _, network := range []string{"tcp", "unix", "tls"} {
		t.Run(network, func(t *testing.T) {
			env := startKMSServer(t, network)
			ctx := context.Background()
			admin := env.admin(t)
			good := image("the right image")
			policy := `{"Version":"2012-10-17","Statement":[
			 {"Sid":"Admin","Effect":"Allow","Principal":{"AWS":"` + adminARN + `"},"Action":"kms:*","Resource":"*"},
			 {"Sid":"EnclaveOnly","Effect":"Allow","Principal":{"AWS":"` + enclaveARN + `"},
			  "Action":["kms:Decrypt","kms:GenerateDataKey","kms:GenerateDataKeyPair"],"Resource":"*",
			  "Condition":{"StringEqualsIgnoreCase":{"kms:RecipientAttestation:ImageSha384":"` + strings.ToUpper(hex.EncodeToString(good)) + `"}}}]}`
			ck, err := admin.CreateKey(ctx, &awskms.CreateKeyInput{Description: aws.String("pinned to an image"), Policy: aws.String(policy)})
			if err != nil {
				t.Fatalf("CreateKey: %v", err)
			}
			keyID := aws.ToString(ck.KeyMetadata.KeyId)

			a := env.agentFor(t, good)
			dk, err := a.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: aws.String(keyID), KeySpec: "AES_256"})
			if err != nil {
				t.Fatalf("agent GenerateDataKey: %v", err)
			}
			if len(dk.Plaintext) != 32 || len(dk.CiphertextBlob) == 0 || !strings.Contains(dk.KeyID, keyID) {
				t.Fatalf("data key: %d bytes, blob %d, key %q", len(dk.Plaintext), len(dk.CiphertextBlob), dk.KeyID)
			}
			plain, err := admin.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: dk.CiphertextBlob})
			if err != nil {
				t.Fatalf("admin Decrypt without Recipient: %v", err)
			}
			if !bytes.Equal(plain.Plaintext, dk.Plaintext) {
				t.Fatal("the agent's data key differs from kms-server's Decrypt of the same CiphertextBlob")
			}
			dec, err := a.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: dk.CiphertextBlob, KeyId: aws.String(dk.KeyID)})
			if err != nil || !bytes.Equal(dec.Plaintext, dk.Plaintext) {
				t.Fatalf("agent Decrypt: %v", err)
			}
			// Arbitrary data encrypted by the admin, decrypted in the enclave.
			enc, err := admin.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(keyID), Plaintext: []byte("secret config")})
			if err != nil {
				t.Fatal(err)
			}
			dec, err = a.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, KeyId: aws.String(keyID)})
			if err != nil || string(dec.Plaintext) != "secret config" {
				t.Fatalf("agent Decrypt of Encrypt output: %q %v", dec, err)
			}
			r, err := a.GenerateRandom(ctx, 48)
			if err != nil || len(r) != 48 {
				t.Fatalf("agent GenerateRandom: %d bytes, %v", len(r), err)
			}
			kp, err := a.GenerateDataKeyPair(ctx, &awskms.GenerateDataKeyPairInput{KeyId: aws.String(keyID), KeyPairSpec: "ECC_NIST_P256"})
			if err != nil {
				t.Fatalf("agent GenerateDataKeyPair: %v", err)
			}
			if priv, err := x509.ParsePKCS8PrivateKey(kp.PrivateKeyPlaintext); err != nil {
				t.Fatalf("data key pair private key: %v", err)
			} else if pub, err := x509.ParsePKIXPublicKey(kp.PublicKey); err != nil || !pub.(*ecdsa.PublicKey).Equal(priv.(*ecdsa.PrivateKey).Public()) {
				t.Fatalf("data key pair halves do not match: %v", err)
			}

			// Another image is denied, naming the condition.
			other := env.agentFor(t, image("another image"))
			_, err = other.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: aws.String(keyID), KeySpec: "AES_256"})
			wantAccessDenied(t, err, "GenerateDataKey from another image")
			_, err = other.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: dk.CiphertextBlob, KeyId: aws.String(dk.KeyID)})
			wantAccessDenied(t, err, "Decrypt from another image")
		})
	}
}
