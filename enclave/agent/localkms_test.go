// SPDX-License-Identifier: Apache-2.0

package agent

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"

	"github.com/enclavekit/enclavekit/enclave/emulator"
	"github.com/enclavekit/enclavekit/internal/sdkhttp"
)

// exchange is one request the parent relayed to the key service, and the
// answer it relayed back.
type exchange struct {
	target    string
	req, resp []byte
}

// recordingParent is the parent instance between the agent and kms-server
// over plain HTTP: it relays, and keeps a copy of everything it saw.
type recordingParent struct {
	upstream string // host:port of kms-server
	mu       sync.Mutex
	seen     []exchange
}

func (p *recordingParent) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	req, _ := http.NewRequestWithContext(r.Context(), r.Method, "http://"+p.upstream+r.URL.RequestURI(), bytes.NewReader(body))
	req.Header = r.Header.Clone()
	req.Host = r.Host
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	p.mu.Lock()
	p.seen = append(p.seen, exchange{r.Header.Get("X-Amz-Target"), body, out})
	p.mu.Unlock()
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(out)
}

// checkNoPlaintext asserts that every Recipient operation the parent
// relayed carried Recipient with an attestation document, that no answer
// carried a plaintext field, and that none of secrets crossed it, raw or in
// base64.
func (p *recordingParent) checkNoPlaintext(t *testing.T, secrets ...[]byte) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	withRecipient := 0
	for _, x := range p.seen {
		op := strings.TrimPrefix(x.target, "TrentService.")
		if _, ok := recipientOps[op]; ok {
			var req struct {
				Recipient *struct{ AttestationDocument []byte }
			}
			if err := json.Unmarshal(x.req, &req); err != nil || req.Recipient == nil || len(req.Recipient.AttestationDocument) == 0 {
				t.Errorf("%s reached the key service without Recipient: %s", op, x.req)
			}
			withRecipient++
		}
		var resp map[string]json.RawMessage
		_ = json.Unmarshal(x.resp, &resp)
		for _, f := range secretFields {
			if present(resp[f]) {
				t.Errorf("%s: the answer relayed by the parent carries %s", op, f)
			}
		}
		for _, s := range secrets {
			b64 := base64.StdEncoding.EncodeToString(s)
			if bytes.Contains(x.req, s) || bytes.Contains(x.resp, s) || bytes.Contains(x.req, []byte(b64)) || bytes.Contains(x.resp, []byte(b64)) {
				t.Errorf("%s: a plaintext (%d bytes) crossed the parent", op, len(s))
			}
		}
	}
	if withRecipient == 0 {
		t.Error("no Recipient operation reached the key service")
	}
}

// localKMS is a kms-server, the recording parent in front of it, an agent
// (emulated NSM running the pinned image) and the local KMS endpoint.
type localKMS struct {
	env      *e2eEnv
	keyID    string
	ecdhKey  string // an ECC_NIST_P256 KEY_AGREEMENT key
	parent   *recordingParent
	client   *Client
	endpoint string // http://127.0.0.1:PORT
}

func startLocalKMS(t testing.TB) *localKMS {
	t.Helper()
	env := startKMSServer(t, "tcp")
	good := image("application image")
	policy := `{"Version":"2012-10-17","Statement":[
	 {"Sid":"Admin","Effect":"Allow","Principal":{"AWS":"` + adminARN + `"},"Action":"kms:*","Resource":"*"},
	 {"Sid":"Describe","Effect":"Allow","Principal":{"AWS":"` + enclaveARN + `"},"Action":["kms:DescribeKey","kms:Encrypt","kms:GetPublicKey"],"Resource":"*"},
	 {"Sid":"EnclaveOnly","Effect":"Allow","Principal":{"AWS":"` + enclaveARN + `"},
	  "Action":["kms:Decrypt","kms:GenerateDataKey","kms:GenerateDataKeyPair","kms:DeriveSharedSecret"],"Resource":"*",
	  "Condition":{"StringEqualsIgnoreCase":{"kms:RecipientAttestation:ImageSha384":"` + hex.EncodeToString(good) + `"}}}]}`
	ck, err := env.admin(t).CreateKey(context.Background(), &awskms.CreateKeyInput{Policy: aws.String(policy)})
	if err != nil {
		t.Fatal(err)
	}
	ecdhKey, err := env.admin(t).CreateKey(context.Background(), &awskms.CreateKeyInput{Policy: aws.String(policy),
		KeySpec: types.KeySpecEccNistP256, KeyUsage: types.KeyUsageTypeKeyAgreement})
	if err != nil {
		t.Fatal(err)
	}
	parent := &recordingParent{upstream: strings.TrimPrefix(env.proxy, "tcp://")}
	pln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveOn(t, pln, parent)
	emu, err := emulator.New(&emulator.Config{PCRs: map[int][]byte{0: good}, Root: env.root, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	c, err := New(&Config{NSM: emu, Region: "us-east-1", Endpoint: "http://kms.test", InsecureHTTPUnsafe: true,
		Proxy: "tcp://" + pln.Addr().String(), Credentials: credentials.NewStaticCredentialsProvider(enclaveAKID, enclaveSecret, ""),
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &localKMS{env: env, keyID: aws.ToString(ck.KeyMetadata.KeyId), ecdhKey: aws.ToString(ecdhKey.KeyMetadata.KeyId), parent: parent, client: c,
		endpoint: serveLocalKMS(t, &KMSEndpointConfig{Client: c, Logger: slog.New(slog.DiscardHandler)})}
}

// serveLocalKMS serves a local KMS endpoint on loopback and returns its URL.
func serveLocalKMS(t testing.TB, cfg *KMSEndpointConfig) string {
	t.Helper()
	h, err := NewKMSEndpoint(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- ServeKMSEndpoint(ctx, "tcp://127.0.0.1:0", h, func(a net.Addr) { addrc <- a }) }()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case a := <-addrc:
		return "http://" + a.String()
	case err := <-done:
		t.Fatalf("ServeKMSEndpoint: %v", err)
	}
	return ""
}

// sdkClient is an unmodified aws-sdk-go-v2 KMS client of endpoint, with
// credentials that mean nothing.
func sdkClient(endpoint string) *awskms.Client {
	return awskms.NewFromConfig(aws.Config{Region: "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("any", "any", ""),
		HTTPClient:  sdkhttp.New(nil),
		Retryer:     func() aws.Retryer { return aws.NopRetryer{} }},
		func(o *awskms.Options) { o.BaseEndpoint = aws.String(endpoint) })
}

func TestLocalKMSEndpointGoSDK(t *testing.T) {
	l := startLocalKMS(t)
	ctx := context.Background()
	app := sdkClient(l.endpoint)
	dk, err := app.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: aws.String(l.keyID), KeySpec: "AES_256"})
	if err != nil || len(dk.Plaintext) != 32 || len(dk.CiphertextBlob) == 0 || dk.CiphertextForRecipient != nil {
		t.Fatalf("GenerateDataKey: %v", err)
	}
	dec, err := app.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: dk.CiphertextBlob, KeyId: dk.KeyId})
	if err != nil || !bytes.Equal(dec.Plaintext, dk.Plaintext) {
		t.Fatalf("Decrypt: %v", err)
	}
	plain, err := l.env.admin(t).Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: dk.CiphertextBlob})
	if err != nil || !bytes.Equal(plain.Plaintext, dk.Plaintext) {
		t.Fatalf("the application's data key is not the key service's: %v", err)
	}
	r, err := app.GenerateRandom(ctx, &awskms.GenerateRandomInput{NumberOfBytes: aws.Int32(24)})
	if err != nil || len(r.Plaintext) != 24 {
		t.Fatalf("GenerateRandom: %v", err)
	}
	kp, err := app.GenerateDataKeyPair(ctx, &awskms.GenerateDataKeyPairInput{KeyId: aws.String(l.keyID), KeyPairSpec: "ECC_NIST_P256"})
	if err != nil {
		t.Fatalf("GenerateDataKeyPair: %v", err)
	}
	priv, err := x509.ParsePKCS8PrivateKey(kp.PrivateKeyPlaintext)
	if err != nil {
		t.Fatalf("data key pair: %v", err)
	}
	if pub, err := x509.ParsePKIXPublicKey(kp.PublicKey); err != nil || !pub.(*ecdsa.PublicKey).Equal(priv.(*ecdsa.PrivateKey).Public()) {
		t.Fatalf("data key pair halves do not match: %v", err)
	}
	// Passed through with the agent's credentials.
	desc, err := app.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String(l.keyID)})
	if err != nil || !strings.HasSuffix(aws.ToString(desc.KeyMetadata.Arn), l.keyID) {
		t.Fatalf("DescribeKey: %v", err)
	}
	enc, err := app.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(l.keyID), Plaintext: []byte("application secret")})
	if err != nil {
		t.Fatalf("Encrypt: %v", err)
	}
	if dec, err := app.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, KeyId: aws.String(l.keyID)}); err != nil || string(dec.Plaintext) != "application secret" {
		t.Fatalf("Decrypt of Encrypt: %v", err)
	}
	// DeriveSharedSecret with Recipient: the secret ECDH gives with the
	// key's public half, through the endpoint and through the library.
	peer, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	peerDER, _ := x509.MarshalPKIXPublicKey(peer.PublicKey())
	pk, err := app.GetPublicKey(ctx, &awskms.GetPublicKeyInput{KeyId: aws.String(l.ecdhKey)})
	if err != nil {
		t.Fatalf("GetPublicKey: %v", err)
	}
	kpub, err := x509.ParsePKIXPublicKey(pk.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	kecdh, _ := kpub.(*ecdsa.PublicKey).ECDH()
	want, _ := peer.ECDH(kecdh)
	ss, err := app.DeriveSharedSecret(ctx, &awskms.DeriveSharedSecretInput{KeyId: aws.String(l.ecdhKey),
		KeyAgreementAlgorithm: types.KeyAgreementAlgorithmSpecEcdh, PublicKey: peerDER})
	if err != nil || !bytes.Equal(ss.SharedSecret, want) {
		t.Fatalf("DeriveSharedSecret through the endpoint: %v", err)
	}
	if lib, err := l.client.DeriveSharedSecret(ctx, &awskms.DeriveSharedSecretInput{KeyId: aws.String(l.ecdhKey),
		KeyAgreementAlgorithm: types.KeyAgreementAlgorithmSpecEcdh, PublicKey: peerDER}); err != nil || !bytes.Equal(lib, want) {
		t.Fatalf("Client.DeriveSharedSecret: %v", err)
	}
	// Encapsulate and Decapsulate answer a shared secret in plaintext: refused.
	_, err = app.Decapsulate(ctx, &awskms.DecapsulateInput{KeyId: aws.String(l.keyID), SharedSecretCiphertextBlob: []byte("x"),
		EncapsulationAlgorithm: "ML_KEM"})
	var ue smithy.APIError
	if !errors.As(err, &ue) || ue.ErrorCode() != "UnknownOperationException" {
		t.Fatalf("Decapsulate: %v, want UnknownOperationException", err)
	}
	// A KMS error is relayed as itself.
	_, err = app.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: aws.String("alias/none"), KeySpec: "AES_256"})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "NotFoundException" {
		t.Fatalf("GenerateDataKey of a missing key: %v, want NotFoundException", err)
	}
	l.parent.checkNoPlaintext(t, dk.Plaintext, r.Plaintext, kp.PrivateKeyPlaintext, want)
}

// appResult is what the boto3 and Node clients print.
type appResult struct {
	PlaintextLen    int    `json:"plaintext_len"`
	PlaintextSHA256 string `json:"plaintext_sha256"`
	DecryptMatches  bool   `json:"decrypt_matches"`
	Blob            []byte `json:"blob"`
	RandomLen       int    `json:"random_len"`
	KeyARN          string `json:"key_arn"`
}

// checkApp checks a client's output against the key service: the data key
// it got is the one kms-server's Decrypt (without Recipient) returns for
// its CiphertextBlob, and it never crossed the parent.
func (l *localKMS) checkApp(t *testing.T, out []byte) {
	t.Helper()
	var res appResult
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("client output %q: %v", out, err)
	}
	plain, err := l.env.admin(t).Decrypt(context.Background(), &awskms.DecryptInput{CiphertextBlob: res.Blob})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(plain.Plaintext)
	if res.PlaintextLen != 32 || res.PlaintextSHA256 != hex.EncodeToString(sum[:]) || !res.DecryptMatches || res.RandomLen != 24 ||
		!strings.HasSuffix(res.KeyARN, l.keyID) {
		t.Fatalf("client result %+v", res)
	}
	l.parent.checkNoPlaintext(t, plain.Plaintext)
}

func TestLocalKMSEndpointBoto3(t *testing.T) {
	py := "/usr/bin/python3" // Debian's, with python3-boto3 (a python3 on PATH may be another)
	if err := exec.Command(py, "-c", "import boto3").Run(); err != nil {
		t.Skipf("Debian python3-boto3 is not installed (apt-get install -y python3-boto3): %v", err)
	}
	l := startLocalKMS(t)
	cmd := exec.Command(py, "testdata/localkms/boto3_client.py")
	cmd.Env = append(os.Environ(), "ENDPOINT="+l.endpoint, "KEY_ID="+l.keyID, "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("boto3 client: %v\n%s", err, stderrOf(err))
	}
	l.checkApp(t, out)
}

func TestLocalKMSEndpointNodeSDK(t *testing.T) {
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Skip("npm is not installed: cannot run @aws-sdk/client-kms")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed: cannot run @aws-sdk/client-kms")
	}
	dir, err := nodeClientDir(t, npm)
	if err != nil {
		t.Fatal(err)
	}
	l := startLocalKMS(t)
	cmd := exec.Command(node, "client.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "ENDPOINT="+l.endpoint, "KEY_ID="+l.keyID, "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("@aws-sdk/client-kms client: %v\n%s", err, stderrOf(err))
	}
	l.checkApp(t, out)
}

// nodeClientDir returns a directory holding testdata/localkms/node with
// its node_modules, installed once per machine into the user cache with
// `npm ci` from the committed package-lock.json (exact versions, integrity
// hashes). The directory is named by the hash of the three files, so a
// change installs afresh and never reuses another version's node_modules;
// it is installed under a lock (other test processes on the machine use
// the same cache) into a fresh directory renamed into place when complete,
// so an interrupted install is never taken for a finished one. npm is
// tried twice (a registry hiccup is no test failure) and prefers its own cache;
// a registry that stays unreachable skips the test, saying so.
func nodeClientDir(t *testing.T, npm string) (string, error) {
	t.Helper()
	const src = "testdata/localkms/node"
	h := sha256.New()
	files := map[string][]byte{}
	for _, f := range []string{"package.json", "package-lock.json", "client.mjs"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			return "", err
		}
		files[f] = b
		fmt.Fprintf(h, "%s %d\n", f, len(b))
		h.Write(b)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	parent := filepath.Join(cache, "enclavekit-test")
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", err
	}
	dir := filepath.Join(parent, "localkms-node-"+hex.EncodeToString(h.Sum(nil)[:8]))
	lock, err := os.OpenFile(dir+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", err
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@aws-sdk", "client-kms", "package.json")); err == nil {
		return dir, nil
	}
	tmp, err := os.MkdirTemp(parent, "localkms-node-install-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	for f, b := range files {
		if err := os.WriteFile(filepath.Join(tmp, f), b, 0o644); err != nil {
			return "", err
		}
	}
	// npm's own retries wait up to a minute each, and a request up to
	// five: with these, an unreachable registry fails in seconds, and a
	// blackholed one in about two minutes a try.
	const tries = 2
	var out []byte
	for try := 1; ; try++ {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		install := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund", "--prefer-offline",
			"--fetch-retries=1", "--fetch-retry-mintimeout=1000", "--fetch-retry-maxtimeout=5000", "--fetch-timeout=60000")
		install.Dir = tmp
		out, err = install.CombinedOutput()
		cancel()
		if err == nil {
			break
		}
		if try == tries {
			if npmOffline.Match(out) {
				t.Skipf("the npm registry is unreachable (%s), so @aws-sdk/client-kms could not be installed (npm ci, %d tries)", npmOffline.Find(out), try)
			}
			return "", fmt.Errorf("npm ci (@aws-sdk/client-kms from %s/package-lock.json), %d tries: %v\n%s", src, try, err, out)
		}
		t.Logf("npm ci failed (try %d of %d), trying again: %v:\n%s", try, tries, err, out)
		time.Sleep(time.Duration(try) * 2 * time.Second)
	}
	if err := os.RemoveAll(dir); err != nil { // a partial install from before the lock
		return "", err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return "", err
	}
	return dir, nil
}

// npmOffline matches npm's errors for a registry it cannot reach.
var npmOffline = regexp.MustCompile(`\b(ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH|EHOSTUNREACH)\b`)

func stderrOf(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(ee.Stderr)
	}
	return ""
}

// post sends a raw request to the local endpoint and returns the status
// and the KMS error code (from X-Amzn-ErrorType, checked against __type).
func post(t *testing.T, url, method, target string, body io.Reader) (int, string, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, url, body)
	if target != "" {
		req.Header.Set("X-Amz-Target", target)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	code := resp.Header.Get("X-Amzn-ErrorType")
	if resp.StatusCode != 200 {
		var ej struct {
			Type    string `json:"__type"`
			Message string `json:"message"`
		}
		if err := json.Unmarshal(b, &ej); err != nil || ej.Type != code || ej.Message == "" {
			t.Errorf("error answer is not KMS-shaped: %d %q %s", resp.StatusCode, code, b)
		}
	}
	return resp.StatusCode, code, b
}

func TestLocalKMSEndpointBadRequests(t *testing.T) {
	e := newEmulator(t)
	f, c := newFakeClient(t, e, "sealed")
	url := serveLocalKMS(t, &KMSEndpointConfig{Client: c, MaxRequestBytes: 1024, Logger: slog.New(slog.DiscardHandler)})
	for _, tc := range []struct {
		name, method, target, body string
		status                     int
		code                       string
	}{
		{"oversized", "POST", "TrentService.GenerateDataKey", `{"KeyId":"` + strings.Repeat("k", 2000) + `"}`, 413, "ValidationException"},
		{"malformed", "POST", "TrentService.GenerateDataKey", `{"KeyId":`, 400, "SerializationException"},
		{"not an object", "POST", "TrentService.Decrypt", `[1,2]`, 400, "SerializationException"},
		{"unknown operation", "POST", "TrentService.Frobnicate", `{}`, 400, "UnknownOperationException"},
		{"other service", "POST", "DynamoDB_20120810.GetItem", `{}`, 400, "UnknownOperationException"},
		{"no target", "POST", "", `{}`, 400, "UnknownOperationException"},
		{"GET", "GET", "TrentService.ListKeys", ``, 404, "UnknownOperationException"},
		{"bad NumberOfBytes", "POST", "TrentService.GenerateDataKey", `{"KeyId":"k","NumberOfBytes":"x"}`, 400, "ValidationException"},
		{"GenerateRandom 0", "POST", "TrentService.GenerateRandom", `{"NumberOfBytes":0}`, 400, "ValidationException"},
		{"GenerateRandom 2000", "POST", "TrentService.GenerateRandom", `{"NumberOfBytes":2000}`, 400, "ValidationException"},
	} {
		status, code, b := post(t, url, tc.method, tc.target, strings.NewReader(tc.body))
		if status != tc.status || code != tc.code {
			t.Errorf("%s: %d %s %s, want %d %s", tc.name, status, code, b, tc.status, tc.code)
		}
	}
	if n := f.calls.Load(); n != 0 {
		t.Errorf("%d bad requests reached the key service", n)
	}
}

// plaintextKMS answers every operation with a Plaintext field.
// passThroughEndpoint serves a local KMS endpoint whose agent reaches the
// key service kms stands for; it returns the endpoint's URL.
func passThroughEndpoint(t *testing.T, e *emulator.Emulator, kms http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveOn(t, ln, kms)
	c, err := New(&Config{NSM: e, Region: "us-east-1", Endpoint: "http://kms.test", InsecureHTTPUnsafe: true, Proxy: "tcp://" + ln.Addr().String(),
		Credentials: credentials.NewStaticCredentialsProvider("a", "b", ""), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return serveLocalKMS(t, &KMSEndpointConfig{Client: c, Logger: slog.New(slog.DiscardHandler)})
}

type plaintextKMS struct{}

func (plaintextKMS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_, _ = io.WriteString(w, `{"KeyId":"k","Plaintext":"QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE=","KeyMetadata":{"KeyId":"k"}}`)
}

// TestLocalKMSEndpointRefusesPlaintext: an answer carrying Plaintext, to a
// Recipient operation or to one passed through, never reaches the
// application.
func TestLocalKMSEndpointRefusesPlaintext(t *testing.T) {
	e := newEmulator(t)
	_, c := newFakeClient(t, e, "plaintext") // CiphertextForRecipient and Plaintext
	url := serveLocalKMS(t, &KMSEndpointConfig{Client: c, Logger: slog.New(slog.DiscardHandler)})
	status, code, b := post(t, url, "POST", "TrentService.GenerateDataKey", strings.NewReader(`{"KeyId":"k","KeySpec":"AES_256"}`))
	if status != 500 || code != "KMSInternalException" || bytes.Contains(b, []byte("Plaintext\":")) {
		t.Fatalf("GenerateDataKey answered with Plaintext: %d %s %s", status, code, b)
	}

	url2 := passThroughEndpoint(t, e, plaintextKMS{})
	status, code, b = post(t, url2, "POST", "TrentService.DescribeKey", strings.NewReader(`{"KeyId":"k"}`))
	if status != 500 || code != "KMSInternalException" || bytes.Contains(b, []byte("QUFB")) {
		t.Fatalf("DescribeKey answered with Plaintext: %d %s %s", status, code, b)
	}
}

// TestLocalKMSEndpointRefusesPlaintextAnyCase: an answer carrying
// "plaintext" (or any other case of a secret field) is refused too. The
// endpoint writes its answer's members in name order, so the parent's
// "plaintext" would follow the endpoint's "Plaintext", and a decoder that
// matches names regardless of case, the last one winning (Go's
// encoding/json), would hand the application a data key the parent chose.
func TestLocalKMSEndpointRefusesPlaintextAnyCase(t *testing.T) {
	e := newEmulator(t)
	_, c := newFakeClient(t, e, "plaintext-lower")
	url := serveLocalKMS(t, &KMSEndpointConfig{Client: c, Logger: slog.New(slog.DiscardHandler)})
	status, code, b := post(t, url, "POST", "TrentService.GenerateDataKey", strings.NewReader(`{"KeyId":"k","KeySpec":"AES_256"}`))
	if status != 500 || code != "KMSInternalException" || bytes.Contains(b, []byte("ZmZm")) {
		t.Fatalf("GenerateDataKey answered with plaintext: %d %s %s", status, code, b)
	}

	url2 := passThroughEndpoint(t, e, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		_, _ = io.WriteString(w, `{"KeyId":"k","KeyMetadata":{"KeyId":"k"},"sharedSECRET":"ZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmY="}`)
	}))
	status, code, b = post(t, url2, "POST", "TrentService.DescribeKey", strings.NewReader(`{"KeyId":"k"}`))
	if status != 500 || code != "KMSInternalException" || bytes.Contains(b, []byte("ZmZm")) {
		t.Fatalf("DescribeKey answered with sharedSECRET: %d %s %s", status, code, b)
	}
}

// TestLocalKMSEndpointFailsClosed: a key service that does not answer, or
// cannot be reached, gets the application an error within the endpoint's
// timeout, never a hang.
func TestLocalKMSEndpointFailsClosed(t *testing.T) {
	e := newEmulator(t)
	hang, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hang.Close()
	go func() {
		for {
			c, err := hang.Accept()
			if err != nil {
				return
			}
			defer c.Close() // accepted, never answered
		}
	}()
	// Nothing listens on a socket file that does not exist (a TCP port
	// found free and released may be taken by another test meanwhile).
	absent := "unix://" + filepath.Join(t.TempDir(), "absent.sock")
	for name, proxy := range map[string]string{"hangs": "tcp://" + hang.Addr().String(), "unreachable": absent} {
		t.Run(name, func(t *testing.T) {
			c, err := New(&Config{NSM: e, Region: "us-east-1", Endpoint: "http://kms.test", InsecureHTTPUnsafe: true, Proxy: proxy,
				Credentials: credentials.NewStaticCredentialsProvider("a", "b", ""), Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			// The answer must come within the configured timeout (500 ms),
			// not the Client's (DefaultTimeout, 30 s) and never not at all:
			// bound is 20 times the timeout, far beyond what a loaded
			// machine adds, and a third of the default.
			const timeout, bound = 500 * time.Millisecond, 10 * time.Second
			url := serveLocalKMS(t, &KMSEndpointConfig{Client: c, Timeout: timeout, Logger: slog.New(slog.DiscardHandler)})
			hc := &http.Client{Timeout: bound}
			for _, target := range []string{"TrentService.GenerateDataKey", "TrentService.ListKeys"} {
				req, _ := http.NewRequest("POST", url, strings.NewReader(`{"KeyId":"k","KeySpec":"AES_256"}`))
				req.Header.Set("X-Amz-Target", target)
				req.Header.Set("Content-Type", "application/x-amz-json-1.1")
				start := time.Now()
				resp, err := hc.Do(req)
				if err != nil {
					t.Fatalf("%s: no answer within %v (timeout %v): %v", target, bound, timeout, err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if el := time.Since(start); el > bound {
					t.Errorf("%s: answered after %v, timeout %v", target, el, timeout)
				}
				var ej struct {
					Type    string `json:"__type"`
					Message string `json:"message"`
				}
				_ = json.Unmarshal(b, &ej)
				if resp.StatusCode != 503 || ej.Type != "DependencyTimeoutException" || resp.Header.Get("X-Amzn-ErrorType") != ej.Type {
					t.Errorf("%s: %d %s, want 503 DependencyTimeoutException", target, resp.StatusCode, b)
				}
				// It was the timeout that answered for the key service that
				// hangs, and the refused connection for the one away.
				if want := map[string]string{"hangs": "did not answer in time", "unreachable": "unreachable"}[name]; !strings.Contains(ej.Message, want) {
					t.Errorf("%s: message %q, want it to say %q", target, ej.Message, want)
				}
			}
		})
	}
}

func TestCheckKMSEndpointAddr(t *testing.T) {
	for addr, ok := range map[string]bool{
		"tcp://127.0.0.1:8000": true, "tcp://[::1]:8000": true, "tcp://localhost:8000": true,
		"tcp://0.0.0.0:8000": false, "tcp://10.0.0.1:8000": false, "vsock://any:8000": false,
		"unix:///run/kms.sock": false, "http://127.0.0.1:8000": false,
	} {
		err := CheckKMSEndpointAddr(addr)
		if (err == nil) != ok || (err != nil && !errors.Is(err, ErrKMSEndpointAddr)) {
			t.Errorf("%s: %v, want ok=%v", addr, err, ok)
		}
	}
}

// TestLocalKMSEndpointRefusesRelayed: a request that came through a
// reverse proxy is refused before it reaches the key service. The attack:
// the attested listener (reachable by the parent and anyone it relays)
// with --upstream pointed at the local KMS endpoint by mistake, or at an
// application proxy routing to it; the parent, as a client of that
// listener, would Decrypt the enclave's ciphertexts in plaintext.
func TestLocalKMSEndpointRefusesRelayed(t *testing.T) {
	e := newEmulator(t)
	f, c := newFakeClient(t, e, "sealed")
	url := serveLocalKMS(t, &KMSEndpointConfig{Client: c, Logger: slog.New(slog.DiscardHandler)})
	att, err := NewAttested(&AttestedConfig{NSM: e, Upstream: url, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("POST", "https://enclave.example/", strings.NewReader(`{"NumberOfBytes":32}`))
	req.Header.Set("X-Amz-Target", "TrentService.GenerateRandom")
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	rec := httptest.NewRecorder()
	att.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusForbidden || rec.Header().Get("X-Amzn-ErrorType") != "AccessDeniedException" {
		t.Errorf("through the attested listener: %d %s %s, want 403 AccessDeniedException", rec.Code, rec.Header().Get("X-Amzn-ErrorType"), rec.Body)
	}
	for _, h := range []string{"X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "Forwarded", "Via"} {
		req, _ := http.NewRequest("POST", url, strings.NewReader(`{"NumberOfBytes":32}`))
		req.Header.Set("X-Amz-Target", "TrentService.GenerateRandom")
		req.Header.Set(h, "x")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden || resp.Header.Get("X-Amzn-ErrorType") != "AccessDeniedException" {
			t.Errorf("with %s: %d %s, want 403 AccessDeniedException", h, resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"))
		}
	}
	if n := f.calls.Load(); n != 0 {
		t.Errorf("%d relayed requests reached the key service", n)
	}
	status, _, b := post(t, url, "POST", "TrentService.GenerateRandom", strings.NewReader(`{"NumberOfBytes":32}`))
	if status != 200 {
		t.Errorf("a direct request: %d %s", status, b)
	}
}
