// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/pprof"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/enclavekit/enclavekit/attestation"
	"github.com/enclavekit/enclavekit/host/kmsserver"
	"github.com/enclavekit/enclavekit/host/kmsserver/kmsconfig"
	"github.com/enclavekit/enclavekit/internal/clitest"
	"github.com/enclavekit/enclavekit/internal/sdkhttp"
)

const childEnv = "ENCLAVEKIT_KMS_SERVER_CHILD"

// TestMain lets the test binary act as kms-server: for the crash test (a
// child process with childEnv set) and as the kms-server command of the
// scripts in testdata/script.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		childProfile()
		main()
	}
	testscript.Main(m, map[string]func(){"kms-server": main})
}

// TestScript runs the command-line scripts: help, version, init, and every
// usage (exit 2) and runtime (exit 1) failure class.
func TestScript(t *testing.T) {
	testscript.Run(t, testscript.Params{Dir: filepath.Join("testdata", "script"), Cmds: clitest.Cmds()})
}

// childProfile writes a CPU profile of the child server to the file named
// by ENCLAVEKIT_CHILD_CPUPROFILE, covering ENCLAVEKIT_CHILD_CPUPROFILE_FOR
// (default 20s) from start (the child is killed, so it stops on a timer).
func childProfile() {
	path := os.Getenv("ENCLAVEKIT_CHILD_CPUPROFILE")
	if path == "" {
		return
	}
	d, err := time.ParseDuration(os.Getenv("ENCLAVEKIT_CHILD_CPUPROFILE_FOR"))
	if err != nil {
		d = 20 * time.Second
	}
	f, err := os.Create(path)
	if err != nil {
		return
	}
	if pprof.StartCPUProfile(f) != nil {
		f.Close()
		return
	}
	time.AfterFunc(d, func() { pprof.StopCPUProfile(); f.Close() })
}

type child struct {
	cmd  *exec.Cmd
	addr string
	done chan struct{}
}

// startChild runs the test binary as kms-server on a free loopback port
// and waits until it serves.
func startChild(t *testing.T, cfgPath string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "--config", cfgPath, "--listen", "127.0.0.1:0", "--metrics-listen", "off")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	cmd.Stdout = io.Discard
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, done: make(chan struct{})}
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		var log bytes.Buffer
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) == nil && m["msg"] == "serving KMS" {
				addrc <- m["addr"].(string)
			}
		}
		close(addrc)
		cmd.Wait()
		close(c.done)
	}()
	select {
	case a, ok := <-addrc:
		if !ok {
			t.Fatal("kms-server child exited before serving")
		}
		c.addr = a
	case <-time.After(waitLimit):
		cmd.Process.Kill()
		t.Fatal("kms-server child did not start")
	}
	return c
}

// crashRound starts kms-server from st, runs work on workers goroutines
// against it (w is the worker's number), kills the server with SIGKILL
// pause plus a random part of spread after the round's first acknowledged
// operation (when progress, a count of them, has grown: so every round
// kills the server at work, however long a loaded machine takes to start
// it and to answer the first request), then cancels the workers' context
// and waits for them. check, when not nil, runs first against the fresh
// server; the server is killed however the round ends.
func crashRound(t *testing.T, st *kmsconfig.Starter, workers int, pause, spread time.Duration,
	check func(*awskms.Client), progress func() int, work func(ctx context.Context, client *awskms.Client, w int)) {
	t.Helper()
	c := startChild(t, st.ConfigPath)
	defer c.kill()
	client := clientFor(st, c.addr)
	if check != nil {
		check(client)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p0 := progress()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			work(ctx, client, w)
		}()
	}
	for deadline := time.Now().Add(waitLimit); progress() == p0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			c.kill()
			cancel()
			wg.Wait()
			t.Fatalf("no operation acknowledged in %v", waitLimit)
		}
	}
	time.Sleep(pause + mrand.N(spread))
	c.kill()
	cancel()
	wg.Wait()
}

func (c *child) kill() {
	c.cmd.Process.Signal(syscall.SIGKILL)
	<-c.done
}

// clientFor is the starter's administrator talking HTTPS to addr, trusting
// the starter's development CA.
func clientFor(st *kmsconfig.Starter, addr string) *awskms.Client {
	pool := x509.NewCertPool()
	if b, err := os.ReadFile(st.TLSCAPath); err != nil || !pool.AppendCertsFromPEM(b) {
		panic(fmt.Sprintf("the starter's CA %s: %v", st.TLSCAPath, err))
	}
	return awskms.NewFromConfig(aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider(st.AccessKeyID, st.Secret, ""),
		HTTPClient:  sdkhttp.New(&http.Client{Timeout: waitLimit, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}),
		Retryer:     func() aws.Retryer { return aws.NopRetryer{} },
	}, func(o *awskms.Options) { o.BaseEndpoint = aws.String("https://" + addr) })
}

type acked struct {
	keyID string
	pt    []byte
	blob  []byte // nil: only the key was acknowledged
}

// TestCrashRecovery kills the server with SIGKILL at random moments while
// clients create keys and encrypt; after a restart every acknowledged key
// must exist and decrypt what it encrypted.
func TestCrashRecovery(t *testing.T) {
	dur := 6 * time.Second
	if testing.Short() {
		dur = 2 * time.Second
	}
	st, err := kmsconfig.WriteStarter(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var acks []acked
	kills := 0
	deadline := time.Now().Add(dur)
	// Every round acknowledges an encryption before its kill.
	encryptions := func() int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, a := range acks {
			if a.blob != nil {
				n++
			}
		}
		return n
	}
	for time.Now().Before(deadline) || kills < 3 {
		crashRound(t, st, 4, 50*time.Millisecond, 400*time.Millisecond, nil, encryptions, func(ctx context.Context, client *awskms.Client, _ int) {
			for ctx.Err() == nil {
				ck, err := client.CreateKey(ctx, &awskms.CreateKeyInput{})
				if err != nil {
					continue
				}
				id := *ck.KeyMetadata.KeyId
				mu.Lock()
				acks = append(acks, acked{keyID: id})
				mu.Unlock()
				pt := make([]byte, 32)
				rand.Read(pt)
				enc, err := client.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(id), Plaintext: pt,
					EncryptionContext: map[string]string{"k": id}})
				if err != nil {
					continue
				}
				mu.Lock()
				acks = append(acks, acked{keyID: id, pt: pt, blob: enc.CiphertextBlob})
				mu.Unlock()
			}
		})
		kills++
	}

	c := startChild(t, st.ConfigPath)
	defer c.kill()
	client := clientFor(st, c.addr)
	ctx := context.Background()

	// A second server on the same directory is refused.
	var stderr bytes.Buffer
	if code := run([]string{"--config", st.ConfigPath, "--listen", "127.0.0.1:0", "--metrics-listen", "off"}, io.Discard, &stderr); code != 1 ||
		!strings.Contains(stderr.String(), "in use by another kms-server process") {
		t.Fatalf("second server on one key store: exit %d, %s", code, stderr.String())
	}

	blobs := 0
	for _, a := range acks {
		if a.blob == nil {
			if _, err := client.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String(a.keyID)}); err != nil {
				t.Fatalf("acknowledged key %s lost: %v", a.keyID, err)
			}
			continue
		}
		blobs++
		out, err := client.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: a.blob, EncryptionContext: map[string]string{"k": a.keyID}})
		if err != nil {
			t.Fatalf("acknowledged ciphertext under %s does not decrypt: %v", a.keyID, err)
		}
		if !bytes.Equal(out.Plaintext, a.pt) {
			t.Fatalf("key %s decrypts to a different plaintext", a.keyID)
		}
	}
	if blobs < kills || kills < 3 {
		t.Fatalf("crash test exercised too little: %d kills, %d acknowledged encryptions", kills, blobs)
	}
	t.Logf("%d kills, %d acknowledged keys and encryptions verified", kills, len(acks))
}

// TestServingAfterEveryListener: the "serving KMS" line comes only once the
// metrics listener is bound too, so /healthz answers at once.
func TestServingAfterEveryListener(t *testing.T) {
	st, err := kmsconfig.WriteStarter(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	// region left out: the line names the default the server uses.
	b, err := os.ReadFile(st.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(st.ConfigPath, bytes.Replace(b, []byte("region: us-east-1\n"), nil, 1), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "--config", st.ConfigPath, "--listen", "tcp://127.0.0.1:0", "--metrics-listen", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) != nil || m["msg"] != "serving KMS" {
			continue
		}
		// The account and region in every ARN the server writes are in
		// the line, so that an operator sees the example account_id left in.
		if m["account_id"] != "111122223333" || m["region"] != "us-east-1" {
			t.Errorf("serving line: account_id %v, region %v; want the starter's", m["account_id"], m["region"])
		}
		maddr, _ := m["metrics_addr"].(string)
		resp, err := http.Get("http://" + maddr + "/healthz")
		if err != nil {
			t.Fatalf("/healthz right after %q: %v", sc.Text(), err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("/healthz: %s", resp.Status)
		}
		return
	}
	t.Fatal("kms-server exited without serving")
}

// TestHelpListsEveryFlag: the help describes every flag the command
// accepts, so the two cannot drift apart.
func TestHelpListsEveryFlag(t *testing.T) {
	serveFlagSet(&serveOptions{}).VisitAll(func(f *flag.Flag) {
		if !regexp.MustCompile(`\n\s+--` + regexp.QuoteMeta(f.Name) + `\b`).MatchString(usage) {
			t.Errorf("the help does not describe --%s", f.Name)
		}
	})
}

// TestSIGHUPReloadsCertificate: SIGHUP makes kms-server read its TLS
// certificate and key again; connections opened afterwards get the new
// pair.
func TestSIGHUPReloadsCertificate(t *testing.T) {
	st, err := kmsconfig.WriteStarter(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	c := startChild(t, st.ConfigPath)
	defer c.kill()
	// A second starter's CA and certificate stand in for the renewal.
	renewed, err := kmsconfig.WriteStarter(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for from, to := range map[string]string{renewed.TLSCertPath: st.TLSCertPath, renewed.TLSKeyPath: st.TLSKeyPath} {
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	pool := x509.NewCertPool()
	b, _ := os.ReadFile(renewed.TLSCAPath)
	pool.AppendCertsFromPEM(b)
	dial := func() error {
		conn, err := tls.Dial("tcp", c.addr, &tls.Config{RootCAs: pool, ServerName: "localhost"})
		if err == nil {
			conn.Close()
		}
		return err
	}
	if dial() == nil {
		t.Fatal("the renewed certificate was served before SIGHUP")
	}
	if err := c.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(waitLimit)
	for dial() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("no renewed certificate after SIGHUP: %v", dial())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestUnsafeSettingsWarned: every setting that weakens what reaches key
// policies is named in a WARN line before the server serves (found by
// review: the serving line was all an operator saw with debug enclaves
// allowed and an extra root trusted).
func TestUnsafeSettingsWarned(t *testing.T) {
	st, err := kmsconfig.WriteStarter(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(st.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	// The development TLS CA stands in for an emulator's root.
	y := strings.Replace(string(b), "roots: []", "roots: [tls-ca.pem]", 1)
	y = strings.Replace(y, "allow_debug_unsafe: false", "allow_debug_unsafe: true", 1)
	if err := os.WriteFile(st.ConfigPath, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "--config", st.ConfigPath, "--listen", "tcp://127.0.0.1:0", "--metrics-listen", "off")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	var warned []string
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) != nil {
			continue
		}
		if m["msg"] == "serving KMS" {
			break
		}
		if m["level"] == "WARN" {
			warned = append(warned, sc.Text())
		}
	}
	all := strings.Join(warned, "\n")
	for _, want := range []string{"attestation.allow_debug_unsafe", "attestation.roots", "kms-server development CA"} {
		if !strings.Contains(all, want) {
			t.Errorf("no warning names %q; warnings:\n%s", want, all)
		}
	}
}

// TestUnsafeWarnings: what unsafeWarnings names for each unsafe setting,
// and that a configuration without any is quiet.
func TestUnsafeWarnings(t *testing.T) {
	safe := &kmsserver.Config{Listen: "127.0.0.1:7700", TLSConfig: &tls.Config{}}
	if w := unsafeWarnings(safe); len(w) != 0 {
		t.Errorf("a safe configuration warns: %v", w)
	}
	// The AWS root, named explicitly, is not an extra root.
	aws := *safe
	aws.AttestationRoots = []*x509.Certificate{attestation.AWSNitroRootG1()}
	if w := unsafeWarnings(&aws); len(w) != 0 {
		t.Errorf("the AWS root warns: %v", w)
	}
	plain := *safe
	plain.TLSConfig, plain.Listen, plain.InsecureHTTPUnsafe = nil, "tcp://10.0.0.5:7700", true
	if w := unsafeWarnings(&plain); len(w) != 1 || w[0].setting != "insecure_http_unsafe" {
		t.Errorf("plain HTTP allowed off loopback: %v", w)
	}
	// Plain HTTP on loopback is allowed without the setting: no warning.
	lo := plain
	lo.Listen, lo.InsecureHTTPUnsafe = "tcp://127.0.0.1:7700", false
	if w := unsafeWarnings(&lo); len(w) != 0 {
		t.Errorf("plain HTTP on loopback: %v", w)
	}
	debug := *safe
	debug.AllowDebugEnclavesUnsafe = true
	if w := unsafeWarnings(&debug); len(w) != 1 || w[0].setting != "attestation.allow_debug_unsafe" {
		t.Errorf("debug enclaves: %v", w)
	}
}
