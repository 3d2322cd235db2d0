// SPDX-License-Identifier: Apache-2.0

package agent

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"

	"github.com/enclavekit/enclavekit/enclave/emulator"
	"github.com/enclavekit/enclavekit/internal/sdkhttp"
)

// guessingParent is a parent instance relaying the agent's Decrypt over
// plain HTTP: it answers each with the genuine envelope of the stored blob
// (asked for with the agent's own fresh document), its last byte flipped
// by the current guess (flipLastByte: it opens only when the guess is the
// plaintext's last byte), and counts the agent's requests. Were a refusal
// retried by the application's SDK and a success not, the count per
// application call would tell it whether its guess was right.
type guessingParent struct {
	t     *testing.T
	kms   *awskms.Client
	blob  []byte
	mu    sync.Mutex
	guess byte
	n     int
}

func (p *guessingParent) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var req struct {
		Recipient *struct{ AttestationDocument []byte }
	}
	if json.Unmarshal(body, &req) != nil || req.Recipient == nil {
		p.t.Errorf("parent: agent request without Recipient: %s", body)
		http.Error(w, `{"__type":"ValidationException"}`, 400)
		return
	}
	p.mu.Lock()
	p.n++
	g := p.guess
	p.mu.Unlock()
	out, err := p.kms.Decrypt(r.Context(), &awskms.DecryptInput{CiphertextBlob: p.blob,
		Recipient: &types.RecipientInfo{AttestationDocument: req.Recipient.AttestationDocument, KeyEncryptionAlgorithm: types.KeyEncryptionMechanismRsaesOaepSha256}})
	if err != nil {
		p.t.Errorf("parent: %v", err)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(map[string]any{"KeyId": aws.ToString(out.KeyId), "EncryptionAlgorithm": "SYMMETRIC_DEFAULT",
		"CiphertextForRecipient": flipLastByte(p.t, out.CiphertextForRecipient, g)})
}

// set starts a round: the guess, and the count from 0.
func (p *guessingParent) set(guess byte) {
	p.mu.Lock()
	p.guess, p.n = guess, 0
	p.mu.Unlock()
}

func (p *guessingParent) requests() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n
}

// guessEnv is a kms-server with a stored secret, the guessing parent in
// front of it, and the local KMS endpoint of an agent behind the parent,
// logging to log.
type guessEnv struct {
	parent   *guessingParent
	endpoint string
	blob     []byte
	keyID    string // the blob's key ARN
	right    byte   // the guess that opens: the secret's last byte
	log      *lockedBuffer
}

func startGuessEnv(t *testing.T) *guessEnv {
	t.Helper()
	env := startKMSServer(t, "tcp")
	ctx := context.Background()
	admin := env.admin(t)
	good := image("pinned image")
	policy := `{"Version":"2012-10-17","Statement":[
	 {"Sid":"Admin","Effect":"Allow","Principal":{"AWS":"` + adminARN + `"},"Action":"kms:*","Resource":"*"},
	 {"Sid":"EnclaveOnly","Effect":"Allow","Principal":{"AWS":"` + enclaveARN + `"},"Action":["kms:Decrypt"],"Resource":"*",
	  "Condition":{"StringEqualsIgnoreCase":{"kms:RecipientAttestation:ImageSha384":"` + hex.EncodeToString(good) + `"}}}]}`
	ck, err := admin.CreateKey(ctx, &awskms.CreateKeyInput{Policy: aws.String(policy)})
	if err != nil {
		t.Fatal(err)
	}
	secret := bytes.Repeat([]byte{0xa5}, 32)
	secret[31] = 0x17
	enc, err := admin.Encrypt(ctx, &awskms.EncryptInput{KeyId: ck.KeyMetadata.KeyId, Plaintext: secret})
	if err != nil {
		t.Fatal(err)
	}
	emu, err := emulator.New(&emulator.Config{PCRs: map[int][]byte{0: good}, Root: env.root, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	parent := &guessingParent{t: t, kms: env.client(t, enclaveAKID, enclaveSecret), blob: enc.CiphertextBlob}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveOn(t, ln, parent)
	log := &lockedBuffer{}
	logger := slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c, err := New(&Config{NSM: emu, Region: "us-east-1", Endpoint: "http://kms.test", InsecureHTTPUnsafe: true,
		Proxy: "tcp://" + ln.Addr().String(), KeyRotation: -1,
		Credentials: credentials.NewStaticCredentialsProvider(enclaveAKID, enclaveSecret, ""), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &guessEnv{parent: parent, endpoint: serveLocalKMS(t, &KMSEndpointConfig{Client: c, Logger: logger}),
		blob: enc.CiphertextBlob, keyID: aws.ToString(ck.KeyMetadata.Arn), right: secret[31], log: log}
}

// TestLocalKMSRefusedOpenNotRetried: an envelope that does not open is
// answered with a status and code that aws-sdk-go-v2's standard retryer
// does not retry (400 KMSInternalException), and the endpoint logs
// nothing about it: one agent request per application call whether the
// parent's guess was right (200) or wrong, and no log line (forwarded to
// the parent by init --logs-to when the agent runs as the application)
// tells the two apart.
func TestLocalKMSRefusedOpenNotRetried(t *testing.T) {
	g := startGuessEnv(t)
	// An unmodified SDK with its default (standard) retryer; only the
	// backoff is zeroed to keep the test short.
	app := awskms.NewFromConfig(aws.Config{Region: "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("any", "any", ""), HTTPClient: sdkhttp.New(nil),
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
			})
		}}, func(o *awskms.Options) { o.BaseEndpoint = aws.String(g.endpoint) })
	for _, guess := range []byte{g.right ^ 0x40, g.right, g.right ^ 0x01, g.right ^ 0x1f} {
		g.parent.set(guess)
		_, err := app.Decrypt(context.Background(), &awskms.DecryptInput{CiphertextBlob: g.blob, KeyId: aws.String(g.keyID)})
		if n := g.parent.requests(); n != 1 {
			t.Errorf("guess %#x: the parent saw %d agent requests for one application call, want 1 (err: %v)", guess, n, err)
		}
		if guess == g.right {
			if err != nil {
				t.Errorf("the right guess: %v, want the envelope opened", err)
			}
			continue
		}
		var ae smithy.APIError
		var re *awshttp.ResponseError
		if !errors.As(err, &ae) || ae.ErrorCode() != "KMSInternalException" || !errors.As(err, &re) || re.HTTPStatusCode() != 400 {
			t.Errorf("guess %#x: %v, want 400 KMSInternalException", guess, err)
		}
	}
	if s := g.log.String(); s != "" {
		t.Errorf("the endpoint logged:\n%s\nwant nothing: a line for a refused envelope alone tells the parent reading the log which guess was wrong", s)
	}
}

// refusedResult is what the boto3 and Node Decrypt clients print per call.
type refusedResult struct {
	Status int    `json:"status"`
	Code   string `json:"code"`
}

// checkRefused runs an SDK client with its default retries against g,
// the parent's guess always wrong: each of its calls must be refused 400
// KMSInternalException after exactly one agent request.
func (g *guessEnv) checkRefused(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	const calls = 3
	g.parent.set(g.right ^ 0x40)
	// The SDK's defaults: no retry settings from the environment.
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "AWS_RETRY_MODE=") || strings.HasPrefix(kv, "AWS_MAX_ATTEMPTS=")
	})
	cmd.Env = append(cmd.Env, "ENDPOINT="+g.endpoint, "BLOB="+base64.StdEncoding.EncodeToString(g.blob), "KEY_ID="+g.keyID, "CALLS="+strconv.Itoa(calls),
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("client: %v\n%s", err, stderrOf(err))
	}
	var res []refusedResult
	if err := json.Unmarshal(out, &res); err != nil || len(res) != calls {
		t.Fatalf("client output %q: %v", out, err)
	}
	for i, r := range res {
		if r.Status != 400 || r.Code != "KMSInternalException" {
			t.Errorf("call %d: %d %s, want 400 KMSInternalException", i, r.Status, r.Code)
		}
	}
	if n := g.parent.requests(); n != calls {
		t.Errorf("the parent saw %d agent requests for %d application calls, want one each: the SDK retried the refusal", n, calls)
	}
}

// TestLocalKMSRefusedOpenNotRetriedBoto3: boto3 with its default retries
// (Debian's botocore: legacy mode, _retry.json) does not retry the refusal
// of an envelope that does not open.
func TestLocalKMSRefusedOpenNotRetriedBoto3(t *testing.T) {
	py := "/usr/bin/python3" // Debian's, with python3-boto3 (a python3 on PATH may be another)
	if err := exec.Command(py, "-c", "import boto3").Run(); err != nil {
		t.Skipf("Debian python3-boto3 is not installed (apt-get install -y python3-boto3): %v", err)
	}
	g := startGuessEnv(t)
	g.checkRefused(t, exec.Command(py, "testdata/localkms/refused/boto3_decrypt.py"))
	for _, mode := range []string{"standard", "adaptive"} {
		g.checkRefused(t, exec.Command("/usr/bin/env", "AWS_RETRY_MODE="+mode, py, "testdata/localkms/refused/boto3_decrypt.py"))
	}
}

// TestLocalKMSRefusedOpenNotRetriedNodeSDK: @aws-sdk/client-kms with its
// default retries (standard, 3 attempts) does not retry the refusal of an
// envelope that does not open.
func TestLocalKMSRefusedOpenNotRetriedNodeSDK(t *testing.T) {
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
	// The script beside a link to the installed node_modules, which
	// nodeClientDir shares between test processes and is not written.
	run := t.TempDir()
	src, err := os.ReadFile("testdata/localkms/refused/decrypt.mjs")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(run, "decrypt.mjs"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "node_modules"), filepath.Join(run, "node_modules")); err != nil {
		t.Fatal(err)
	}
	g := startGuessEnv(t)
	cmd := exec.Command(node, "decrypt.mjs")
	cmd.Dir = run
	g.checkRefused(t, cmd)
}
