// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/enclavekit/enclavekit/host/kmsserver/kmsconfig"
	"github.com/enclavekit/enclavekit/internal/demo"
	"github.com/enclavekit/enclavekit/internal/transport"
)

const (
	region      = "us-east-1"
	account     = "111122223333"
	enclaveRole = "arn:aws:iam::" + account + ":role/enclave-e2e"
	// Image A is the one the key policy admits, image B another build.
	pcr0A = "8f0d145c0368ad6b70be22e41c400eea91b971d96ba220fec9fae25a58dffdaaf72dbe8f6783d55128c9df4efaf6f8a7"
	pcr1A = "4b4d5b3661b3efc12920900c80e126e4ce783c522de6c02a2a5bf7af3a2b9327b86776f188e4be1c1c404a129dbda493"
	pcr2A = "97e4ab86d4ac6f0c9ca2b4d4f1e0b43f7e7c5f3b52e2d5fc1b3b9a0d7d6ad44b2a8a5c3a4f9a0a1e0c3f4b5a6d7e8f90"
	pcr0B = "b1c16eb7634112b7c9d5ebd27e62a2d4528bbfcfd68b62d3afd9ecf98e0f413a84314acce78317fb69fd895155343e09"

	// testTimeout bounds the whole flow after the build. It only turns a
	// hang into a failure before go test's -timeout: the flow takes
	// seconds, and a loaded machine may make that a minute or more.
	testTimeout = 5 * time.Minute
)

// binDir holds the four binaries, built once by TestMain.
var binDir string

func TestMain(m *testing.M) {
	os.Exit(buildAndRun(m))
}

func buildAndRun(m *testing.M) int {
	dir, err := os.MkdirTemp("", "enclavekit-e2e-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	// `go test` puts its own GOROOT/bin first on PATH.
	args := []string{"build", "-o", dir + string(filepath.Separator)}
	if raceEnabled {
		args = append(args, "-race") // the binaries race-checked too, and no second compilation of the dependencies
	}
	args = append(args, "./cmd/enclave-agent", "./cmd/host-proxy", "./cmd/kms-server", "./cmd/nitro-verify")
	cmd := exec.Command("go", args...)
	cmd.Dir = ".." // the module root
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: building the binaries:", err)
		return 1
	}
	binDir = dir
	return m.Run()
}

// logBuffer is an io.Writer safe for concurrent use (a process's output,
// the tap's log).
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// proc is a long-running binary (a server).
type proc struct {
	name string
	cmd  *exec.Cmd
	out  logBuffer
	done chan struct{}
	err  error // Wait's result, set before done is closed
}

// stopLimit is how long a server has to exit after SIGTERM: far beyond
// what a loaded machine needs for a clean shutdown, and below host-proxy's
// default drain (30 s), so a server that waits out a drain still fails.
const stopLimit = 25 * time.Second

// waitLimit bounds the waits for a server's output. It is no property of
// the servers: it only turns output that never comes into a failure that
// names it, so it is far beyond what a loaded machine needs.
const waitLimit = time.Minute

// start runs a server binary until the test ends; at the end it gets
// SIGTERM and must exit 0 within stopLimit (a clean shutdown is part of the
// flow).
func start(t *testing.T, name string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, done: make(chan struct{})}
	p.cmd = exec.Command(filepath.Join(binDir, name), args...)
	p.cmd.Env = baseEnv()
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
			if p.err != nil {
				t.Errorf("%s after SIGTERM: %v; output:\n%s", name, p.err, p.out.String())
			}
		case <-time.After(stopLimit):
			p.cmd.Process.Kill()
			<-p.done
			t.Errorf("%s did not stop within %v of SIGTERM; output:\n%s", name, stopLimit, p.out.String())
		}
	})
	return p
}

// waitFor waits for the process's output to match re and returns the
// first submatch (or the whole match).
func (p *proc) waitFor(t *testing.T, re string) string {
	t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(waitLimit)
	for {
		if m := rx.FindStringSubmatch(p.out.String()); m != nil {
			return m[len(m)-1]
		}
		select {
		case <-p.done:
			t.Fatalf("%s exited (%v) before printing %q; output:\n%s", p.name, p.err, re, p.out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no %q after %v; output:\n%s", p.name, re, waitLimit, p.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// baseEnv is the environment of every process: no AWS variables leak in
// from the developer's shell.
func baseEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	return env
}

// result is a finished command.
type result struct {
	code           int
	stdout, stderr string
}

// run runs a binary to completion.
func run(t *testing.T, ctx context.Context, name string, args ...string) result {
	t.Helper()
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, name), args...)
	cmd.Env = baseEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee) && ee.Exited():
		r.code = ee.ExitCode()
	default:
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, r.stderr)
	}
	return r
}

func randomHex(t *testing.T, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func writeFile(t *testing.T, name, content string, perm os.FileMode) {
	t.Helper()
	if err := os.WriteFile(name, []byte(content), perm); err != nil {
		t.Fatal(err)
	}
}

// tapConnections returns the relay tap's records: what the parent saw of
// each KMS connection it relayed.
func tapConnections(t *testing.T, tapLog *logBuffer) []demo.Connection {
	t.Helper()
	var out []demo.Connection
	for _, line := range strings.Split(strings.TrimSpace(tapLog.String()), "\n") {
		if line == "" {
			continue
		}
		var c demo.Connection
		if err := json.Unmarshal([]byte(line), &c); err != nil {
			t.Fatalf("tap log line %q: %v", line, err)
		}
		out = append(out, c)
	}
	return out
}

// checkParentSawTLSOnly asserts that every connection the parent relayed
// was TLS, and that nothing of a KMS exchange was readable in it. The tap
// logs a connection once both of its directions have closed, which follows
// the client's exit through host-proxy asynchronously: it first waits (up
// to waitLimit) for the tap to have logged every connection it accepted.
func checkParentSawTLSOnly(t *testing.T, tap *demo.RelayTap, tapLog *logBuffer) {
	t.Helper()
	for deadline := time.Now().Add(waitLimit); tap.Open() != 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the tap still relays %d connection(s) %v after the client exited", tap.Open(), waitLimit)
		}
	}
	conns := tapConnections(t, tapLog)
	if len(conns) == 0 {
		t.Fatal("the tap relayed no connection")
	}
	for _, c := range conns {
		if !c.TLS || len(c.Readable) != 0 || c.BytesUp == 0 || c.BytesDown == 0 {
			t.Errorf("the parent saw %+v, want TLS records only", c)
		}
	}
}

// auditEvents returns kms-server's audit lines for op.
func auditEvents(t *testing.T, file, op string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("audit line %q: %v", line, err)
		}
		if ev["operation"] == op {
			out = append(out, ev)
		}
	}
	return out
}

// checkRecipientAudit asserts kms-server's record of one Recipient call:
// allowed, for the key, with image digest pcr0 from the attestation
// document.
func checkRecipientAudit(t *testing.T, ev map[string]any, keyARN, pcr0 string) {
	t.Helper()
	aed, _ := ev["additionalEventData"].(map[string]any)
	rec, _ := aed["recipient"].(map[string]any)
	if ev["decision"] != "allow" || ev["keyArn"] != keyARN || rec == nil || rec["attestationDocumentEnclaveImageDigest"] != pcr0 {
		t.Errorf("%s: audit %v, want allow for %s with image %s", ev["operation"], ev, keyARN, pcr0)
	}
}

// TestFlow is scripts/demo.sh as a test: each step of the demo is asserted.
func TestFlow(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	// Short paths: unix socket names are limited to about 100 bytes.
	dir, err := os.MkdirTemp("", "ek-e2e")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := func(p ...string) string { return filepath.Join(append([]string{dir}, p...)...) }

	// The emulator's root, kept in enclave A's state directory; enclave B
	// runs on the same emulated hardware (same root, its own PCR bank).
	for _, d := range []string{"enclave-a", "enclave-b"} {
		if err := os.Mkdir(path(d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if r := run(t, ctx, "enclave-agent", "emulator-root", "--emulator-state", path("enclave-a"), "--out", path("emulator-root.pem")); r.code != 0 {
		t.Fatalf("emulator-root: exit %d: %s", r.code, r.stderr)
	}
	for _, f := range []string{"root.pem", "root.key"} {
		b, err := os.ReadFile(path("enclave-a", f))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, path("enclave-b", f), string(b), 0o600)
	}

	// kms-server: a fresh store from `kms-server init`, whose access key is
	// the administrator's; the enclave role gets its own.
	if r := run(t, ctx, "kms-server", "init", "--dir", path("kms")); r.code != 0 {
		t.Fatalf("kms-server init: exit %d: %s", r.code, r.stderr)
	}
	starter, err := kmsconfig.Load(path("kms", "kms-server.yaml"))
	if err != nil || len(starter.AccessKeys) != 2 {
		t.Fatalf("kms-server init wrote %+v: %v", starter, err)
	}
	admin := starter.AccessKeys[0]
	roleID, roleSecret := "AKIA"+strings.ToUpper(randomHex(t, 8)), randomHex(t, 20)
	writeFile(t, path("kms", "kms-server.yaml"), fmt.Sprintf(`listen: 127.0.0.1:0
metrics_listen: "off"
region: %s
account_id: "%s"
key_store_dir: keys
root_key_file: root.key
access_keys:
  - {id: %s, secret: %s, principal: "%s", policy: {Version: "2012-10-17", Statement: [{Effect: Allow, Action: "kms:*", Resource: "*"}]}}
  # The enclave role's credentials sit on the parent: data keys, Decrypt and
  # GenerateRandom only, and only with an attestation document.
  - id: %s
    secret: %s
    principal: "%s"
    policy:
      Version: "2012-10-17"
      Statement:
        - {Effect: Allow, Action: [kms:GenerateDataKey, kms:Decrypt, kms:GenerateRandom], Resource: "*"}
        - {Effect: Deny, Action: "kms:*", Resource: "*", Condition: {"Null": {"kms:RecipientAttestation:ImageSha384": "true"}}}
attestation:
  roots: [../emulator-root.pem]
  max_age: 5m
tls: {cert: tls-cert.pem, key: tls-key.pem} # init's development certificate
audit_log: audit.jsonl
`, region, account, admin.ID, admin.Secret, admin.Principal, roleID, roleSecret, enclaveRole), 0o600)
	kmsProc := start(t, "kms-server", "--config", path("kms", "kms-server.yaml"))
	kmsAddr := kmsProc.waitFor(t, `"msg":"serving KMS","addr":"([^"]+)"`)

	// The administrator creates the key through the KMS API, pinned to
	// image A.
	policy, err := demo.KeyPolicy(admin.Principal, enclaveRole, pcr0A)
	if err != nil {
		t.Fatal(err)
	}
	kmsCA, err := demo.LoadCA(path("kms", "tls-ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	adminClient := demo.NewClient("https://"+kmsAddr, region, admin.ID, admin.Secret, kmsCA)
	keyID, err := demo.CreatePinnedKey(ctx, adminClient, policy, "alias/e2e", "e2e")
	if err != nil {
		t.Fatal(err)
	}

	// The tap, where the parent instance sees the KMS traffic.
	tapLog := &logBuffer{}
	kmsTarget, err := transport.ParseAddr("tcp://" + kmsAddr)
	if err != nil {
		t.Fatal(err)
	}
	tapLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tapCtx, stopTap := context.WithCancel(ctx)
	tap := &demo.RelayTap{Target: kmsTarget, Log: tapLog}
	go tap.Serve(tapCtx, tapLn)
	t.Cleanup(stopTap)
	tapAddr := tapLn.Addr().(*net.TCPAddr)

	// host-proxy: egress to KMS (through the tap), ingress to agent A's
	// attestation endpoint, credentials of the enclave role from a file.
	writeFile(t, path("role.json"), fmt.Sprintf(`{"AccessKeyId": %q, "SecretAccessKey": %q}`, roleID, roleSecret), 0o600)
	writeFile(t, path("host-proxy.yaml"), fmt.Sprintf(`allowlist:
  - {address: 127.0.0.1, port: %d}
routes:
  - name: kms
    direction: egress
    listen: unix://%s
    destination: tcp://%s
  - name: attestation
    direction: ingress
    listen: tcp://127.0.0.1:0
    destination: unix://%s
credentials:
  listen: unix://%s
  source: file
  file: %s
time:
  listen: unix://%s
logs:
  listen: unix://%s
`, tapAddr.Port, path("egress.sock"), tapAddr, path("enclave-a", "agent.sock"), path("creds.sock"), path("role.json"),
		path("time.sock"), path("logs.sock")), 0o600)
	if r := run(t, ctx, "host-proxy", "--config", path("host-proxy.yaml"), "--check"); r.code != 0 {
		t.Fatalf("host-proxy --check: exit %d: %s", r.code, r.stderr)
	}
	hp := start(t, "host-proxy", "--config", path("host-proxy.yaml"))
	ingress := hp.waitFor(t, `route=attestation .*listen=(?:tcp://)?(\S+)`)
	hp.waitFor(t, `credentials route ready`)

	// Enclave A, measurements in nitro-cli describe-eif's format.
	writeFile(t, path("image-a.json"), fmt.Sprintf(`{"Measurements": {"HashAlgorithm": "Sha384 { ... }", "PCR0": %q, "PCR1": %q, "PCR2": %q}}`, pcr0A, pcr1A, pcr2A), 0o644)
	enclaveArgs := func(state string, image ...string) []string {
		return append(append([]string{"--nsm", "emulator", "--emulator-state", path(state)}, image...),
			"--region", region, "--kms-endpoint", "https://localhost", "--kms-ca", path("kms", "tls-ca.pem"), "--proxy", "unix://"+path("egress.sock"),
			"--credentials-endpoint", "unix://"+path("creds.sock"), "--kms-account", account)
	}
	agentA := enclaveArgs("enclave-a", "--image-measurements", path("image-a.json"))
	srvA := start(t, "enclave-agent", append(agentA, "serve", "--listen", "unix://"+path("enclave-a", "agent.sock"))...)
	srvA.waitFor(t, `attestation endpoint listening`)

	// 1. The attestation document through the ingress route, verified by
	// nitro-verify against the emulator root, PCR0 and the nonce.
	nonce := randomHex(t, 16)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+ingress+"/v1/attestation", strings.NewReader(`{"nonce":"`+nonce+`"}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("attestation through the ingress route: %v", err)
	}
	doc, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/cbor" {
		t.Fatalf("attestation: %s %s: %q", resp.Status, resp.Header.Get("Content-Type"), doc)
	}
	writeFile(t, path("attestation.cbor"), string(doc), 0o644)
	verify := func(pcr0 string) (result, map[string]any) {
		r := run(t, ctx, "nitro-verify", "--json", "--root", path("emulator-root.pem"), "--pcr", "0="+pcr0,
			"--nonce", nonce, "--max-age", "1m", path("attestation.cbor"))
		var rep map[string]any
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
			t.Fatalf("nitro-verify --json: %v: %q", err, r.stdout)
		}
		return r, rep
	}
	r, rep := verify(pcr0A)
	if r.code != 0 || rep["verified"] != true {
		t.Fatalf("nitro-verify: exit %d, %v: %s", r.code, rep["error"], r.stderr)
	}
	docJSON, _ := rep["document"].(map[string]any)
	if docJSON["nonce"] != nonce || docJSON["debug"] != false {
		t.Errorf("verified document: %v", docJSON)
	}
	r, rep = verify(pcr0B)
	if errObj, _ := rep["error"].(map[string]any); r.code != 1 || errObj["code"] != "pcr_mismatch" {
		t.Errorf("nitro-verify expecting image B: exit %d, %v", r.code, rep["error"])
	}
	// Without --root the emulator's chain is not trusted.
	if r := run(t, ctx, "nitro-verify", path("attestation.cbor")); r.code != 1 || !strings.Contains(r.stderr, "untrusted_chain") {
		t.Errorf("nitro-verify without --root: exit %d: %s", r.code, r.stderr)
	}

	// 2. GenerateDataKey with Recipient: over TLS the parent sees record
	// sizes only; kms-server answered CiphertextForRecipient (its audit
	// log names the attested image).
	r = run(t, ctx, "enclave-agent", append(agentA, "genkey", "--key-id", "alias/e2e", "--ciphertext-out", path("datakey.blob"))...)
	if r.code != 0 {
		t.Fatalf("genkey: exit %d: %s", r.code, r.stderr)
	}
	var gk struct{ KeyId, CiphertextBlob, Plaintext string }
	if err := json.Unmarshal([]byte(r.stdout), &gk); err != nil {
		t.Fatalf("genkey output %q: %v", r.stdout, err)
	}
	checkParentSawTLSOnly(t, tap, tapLog)
	gen := auditEvents(t, path("kms", "audit.jsonl"), "GenerateDataKey")
	if len(gen) != 1 {
		t.Fatalf("kms-server audited %d GenerateDataKey requests, want 1: %v", len(gen), gen)
	}
	checkRecipientAudit(t, gen[0], gk.KeyId, pcr0A)
	if !strings.HasSuffix(gk.KeyId, "key/"+keyID) {
		t.Errorf("genkey KeyId %q, want the key %s", gk.KeyId, keyID)
	}

	// 3. The agent opened it: a 32-byte key, the one kms-server wraps in
	// the CiphertextBlob (the administrator decrypts it without Recipient
	// as the reference).
	key, _ := base64.StdEncoding.DecodeString(gk.Plaintext)
	blob, _ := base64.StdEncoding.DecodeString(gk.CiphertextBlob)
	if stored, err := os.ReadFile(path("datakey.blob")); err != nil || !bytes.Equal(stored, blob) {
		t.Fatalf("--ciphertext-out: %v (equal to the JSON's CiphertextBlob: %v)", err, bytes.Equal(stored, blob))
	}
	if len(key) != 32 {
		t.Fatalf("genkey: %d-byte key", len(key))
	}
	ref, err := adminClient.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: blob})
	if err != nil || !bytes.Equal(ref.Plaintext, key) {
		t.Fatalf("the agent's key %s differs from the CiphertextBlob's (%v)", demo.Fingerprint(key), err)
	}

	// 4. Decrypt with Recipient of the stored blob: the same key.
	r = run(t, ctx, "enclave-agent", append(agentA, "decrypt", "--key-id", gk.KeyId, "--ciphertext-file", path("datakey.blob"))...)
	if r.code != 0 {
		t.Fatalf("decrypt: exit %d: %s", r.code, r.stderr)
	}
	var dec struct{ KeyId, EncryptionAlgorithm, Plaintext string }
	if err := json.Unmarshal([]byte(r.stdout), &dec); err != nil {
		t.Fatalf("decrypt output %q: %v", r.stdout, err)
	}
	if again, _ := base64.StdEncoding.DecodeString(dec.Plaintext); !bytes.Equal(again, key) || dec.KeyId != gk.KeyId {
		t.Fatalf("decrypt gave %s (key %s), genkey %s (key %s)", demo.Fingerprint(again), dec.KeyId, demo.Fingerprint(key), gk.KeyId)
	}
	checkParentSawTLSOnly(t, tap, tapLog)
	var decs []map[string]any
	for _, ev := range auditEvents(t, path("kms", "audit.jsonl"), "Decrypt") {
		if ev["additionalEventData"] != nil { // the administrator's reference Decrypt has none
			decs = append(decs, ev)
		}
	}
	if len(decs) != 1 {
		t.Fatalf("kms-server audited %d Decrypt requests with Recipient, want 1: %v", len(decs), decs)
	}
	checkRecipientAudit(t, decs[0], gk.KeyId, pcr0A)

	// 5. Image B, same role and hardware: denied, the message naming the
	// condition with expected and presented values.
	agentB := enclaveArgs("enclave-b", "--pcr0", pcr0B)
	r = run(t, ctx, "enclave-agent", append(agentB, "genkey", "--key-id", "alias/e2e", "--ciphertext-out", path("enclave-b", "datakey.blob"))...)
	if r.code != 1 || r.stdout != "" {
		t.Fatalf("genkey from image B: exit %d, stdout %q, stderr %s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"AccessDeniedException", "kms:RecipientAttestation:ImageSha384",
		`expected "` + pcr0A + `"`, `presented "` + pcr0B + `"`} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("image B's denial does not contain %q:\n%s", want, r.stderr)
		}
	}
	if _, err := os.Stat(path("enclave-b", "datakey.blob")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("image B got a ciphertext blob: %v", err)
	}
	if gen := auditEvents(t, path("kms", "audit.jsonl"), "GenerateDataKey"); len(gen) != 2 || gen[1]["decision"] != "deny" || gen[1]["errorCode"] != "AccessDeniedException" {
		t.Errorf("audit: image B's GenerateDataKey: %v", gen[len(gen)-1])
	}
	checkParentSawTLSOnly(t, tap, tapLog)
	audit, err := os.ReadFile(path("kms", "audit.jsonl"))
	if err != nil || !strings.Contains(string(audit), `"decision":"deny"`) || !strings.Contains(string(audit), `"attestationDocumentEnclaveImageDigest":"`+pcr0B+`"`) {
		t.Errorf("audit log (%v):\n%s", err, audit)
	}
	// Image A still gets keys after B's attempt (B's emulated boot did not
	// touch A's PCR bank).
	if r := run(t, ctx, "enclave-agent", append(agentA, "genrandom", "--length", "16")...); r.code != 0 {
		t.Errorf("genrandom from image A after B: exit %d: %s", r.code, r.stderr)
	}

	// 6. An application that is not Go (deploy/enclave/python-app/app.py,
	// Debian's boto3 with endpoint_url at the agent), run by
	// `enclave-agent init` with the local KMS endpoint: it gets a data key
	// and decrypts a stored secret knowing nothing of attestation; its
	// output reaches host-proxy's log through the logs route; the parent
	// saw Recipient on both requests and no plaintext.
	t.Run("python app", func(t *testing.T) {
		const py = "/usr/bin/python3" // Debian's, with python3-boto3
		if err := exec.Command(py, "-c", "import boto3").Run(); err != nil {
			t.Skipf("Debian python3-boto3 is not installed (.ci/run installs it): %v", err)
		}
		secret := []byte("e2e stored secret " + randomHex(t, 8))
		enc, err := adminClient.Encrypt(ctx,
			&awskms.EncryptInput{KeyId: aws.String("alias/e2e"), Plaintext: secret})
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, path("secret.blob"), string(enc.CiphertextBlob), 0o644)
		app, err := filepath.Abs("../deploy/enclave/python-app/app.py")
		if err != nil {
			t.Fatal(err)
		}
		auditFile := path("kms", "audit.jsonl")
		genBefore, decBefore := len(auditEvents(t, auditFile, "GenerateDataKey")), len(auditEvents(t, auditFile, "Decrypt"))
		// The endpoint listens on a kernel-assigned port, which init puts
		// in the application's environment (ENCLAVE_AGENT_KMS_ENDPOINT,
		// read by app.py): no port is found free and released first.
		r := run(t, ctx, "enclave-agent", append(agentA, "init", "--seed-entropy=false",
			"--time-from", "unix://"+path("time.sock"), "--logs-to", "unix://"+path("logs.sock"), "--kms-listen", "127.0.0.1:0",
			"--", "/usr/bin/env", "-u", "AWS_KMS_ENDPOINT", "KEY_ID="+gk.KeyId, "SECRET_FILE="+path("secret.blob"),
			py, app)...)
		if r.code != 0 {
			t.Fatalf("init -- app.py: exit %d:\n%s\nhost-proxy:\n%s", r.code, r.stderr, hp.out.String())
		}
		// The application's stdout, in host-proxy's log.
		quoted := hp.waitFor(t, `msg=("\{\\"data_key_sha256[^\n]*?\}") source=enclave`)
		line, err := strconv.Unquote(quoted)
		if err != nil {
			t.Fatalf("app output in host-proxy's log %s: %v", quoted, err)
		}
		var out struct {
			DataKeySHA256 string `json:"data_key_sha256"`
			DataKeyBlob   []byte `json:"data_key_blob"`
			SecretSHA256  string `json:"secret_sha256"`
		}
		if err := json.Unmarshal([]byte(line), &out); err != nil {
			t.Fatalf("app output %q: %v", line, err)
		}
		sum := sha256.Sum256(secret)
		if out.SecretSHA256 != hex.EncodeToString(sum[:]) {
			t.Errorf("the app's secret hash %s is not the stored secret's", out.SecretSHA256)
		}
		ref, err := adminClient.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: out.DataKeyBlob})
		if dsum := sha256.Sum256(ref.Plaintext); err != nil || out.DataKeySHA256 != hex.EncodeToString(dsum[:]) {
			t.Errorf("the app's data key is not the one in its CiphertextBlob (%v)", err)
		}
		for _, want := range []string{"local KMS endpoint listening", "clock within tolerance", "application exited"} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("init log lacks %q:\n%s", want, r.stderr)
			}
		}
		hp.waitFor(t, `enclave application exited".*code=0`)
		// The app's two requests went out with Recipient (kms-server's
		// audit log names the attested image), over TLS through the parent.
		var ex []map[string]any
		for _, e := range append(auditEvents(t, auditFile, "GenerateDataKey")[genBefore:], auditEvents(t, auditFile, "Decrypt")[decBefore:]...) {
			if e["principal"] != enclaveRole { // not the administrator's reference Decrypt
				continue
			}
			ex = append(ex, e)
		}
		if len(ex) != 2 {
			t.Fatalf("kms-server audited %d new GenerateDataKey/Decrypt requests, want 2: %v", len(ex), ex)
		}
		for _, e := range ex {
			checkRecipientAudit(t, e, e["keyArn"].(string), pcr0A)
		}
		checkParentSawTLSOnly(t, tap, tapLog)
		if tl := tapLog.String(); strings.Contains(tl, base64.StdEncoding.EncodeToString(secret)) || strings.Contains(tl, base64.StdEncoding.EncodeToString(ref.Plaintext)) {
			t.Error("a plaintext crossed the parent")
		}
	})
}
