// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/enclavekit/enclavekit/attestation"
	"github.com/enclavekit/enclavekit/internal/attestationtest"
	"github.com/enclavekit/enclavekit/internal/proccpu"
	"github.com/enclavekit/enclavekit/internal/sdkhttp"
	"github.com/enclavekit/enclavekit/recipient"
)

// procCPU returns the user+system CPU time of process pid (Linux /proc);
// it skips the test where there is no /proc.
func procCPU(t *testing.T, pid int) time.Duration {
	ts, err := proccpu.Of(pid)
	if err != nil {
		t.Skipf("no CPU time for the process: %v", err)
	}
	return ts.Self
}

// TestLoadServerProcess is the load test behind docs/PERFORMANCE.md: a
// kms-server child process, 64 concurrent official clients doing
// GenerateDataKey with Recipient for ENCLAVEKIT_LOAD (e.g. 20s), zero
// errors; requests/s, p50, p99, and the server's CPU per request, beside
// the floor (warm Verifier.Verify + recipient.Seal + one AES-GCM seal)
// measured in the same run on every core. The always-on short version is
// host/kms TestLoadGenerateDataKeyRecipient.
func TestLoadServerProcess(t *testing.T) {
	env := os.Getenv("ENCLAVEKIT_LOAD")
	if env == "" {
		t.Skip("set ENCLAVEKIT_LOAD=20s to run")
	}
	d, err := time.ParseDuration(env)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	fix := attestationtest.New(t, time.Now().Add(-time.Minute))
	rootPath := filepath.Join(dir, "emulator-root.pem")
	os.WriteFile(rootPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: fix.Chain.Root.Raw}), 0o600)
	cfgPath := filepath.Join(dir, "kms-server.yaml")
	cfg := fmt.Sprintf(`listen: 127.0.0.1:0
key_store_dir: keys
root_key_env: ENCLAVEKIT_LOAD_ROOT_KEY
access_keys:
  - {id: AKIALOADTEST00000000, secret: load-secret, principal: "arn:aws:iam::111122223333:user/load", policy: {Version: "2012-10-17", Statement: [{Effect: Allow, Action: "kms:*", Resource: "*"}]}}
attestation: {roots: [%s], max_age: 5m}
audit_log: audit.jsonl
`, rootPath)
	os.WriteFile(cfgPath, []byte(cfg), 0o600)
	t.Setenv("ENCLAVEKIT_LOAD_ROOT_KEY", strings.Repeat("42", 32))
	c := startChild(t, cfgPath)
	defer c.kill()

	priv, _ := recipient.GenerateKey(rand.Reader, 2048)
	spki, _ := recipient.PublicKeyDER(&priv.PublicKey)
	doc := fix.Document(t, func(dd *attestation.Document) { dd.PublicKey = spki; dd.Timestamp = time.Now() })
	ri := &types.RecipientInfo{KeyEncryptionAlgorithm: types.KeyEncryptionMechanismRsaesOaepSha256, AttestationDocument: doc}

	const clients = 64
	client := awskms.NewFromConfig(aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKIALOADTEST00000000", "load-secret", ""),
		HTTPClient:  sdkhttp.New(&http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}, Timeout: 30 * time.Second}),
		Retryer:     func() aws.Retryer { return aws.NopRetryer{} },
	}, func(o *awskms.Options) { o.BaseEndpoint = aws.String("http://" + c.addr) })
	ctx := context.Background()
	ck, err := client.CreateKey(ctx, &awskms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	in := &awskms.GenerateDataKeyInput{KeyId: ck.KeyMetadata.KeyId, KeySpec: types.DataKeySpecAes256, Recipient: ri}
	out, err := client.GenerateDataKey(ctx, in) // warms the server's chain cache
	if err != nil {
		t.Fatal(err)
	}
	if _, err := recipient.Open(priv, out.CiphertextForRecipient); err != nil {
		t.Fatal(err)
	}

	floor := func(d time.Duration) (float64, time.Duration) {
		v, err := attestation.NewVerifier(&attestation.VerifierConfig{Roots: fix.Roots()})
		if err != nil {
			t.Fatal(err)
		}
		blk, _ := aes.NewCipher(make([]byte, 32))
		aead, _ := cipher.NewGCM(blk)
		v.Verify(doc, attestation.Options{CurrentTime: time.Now(), MaxAge: 5 * time.Minute})
		var n atomic.Int64
		cpu0 := proccpu.Self()
		stop := time.Now().Add(d)
		var wg sync.WaitGroup
		for range runtime.GOMAXPROCS(0) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				dk, nonce := make([]byte, 32), make([]byte, 12)
				for time.Now().Before(stop) {
					got, err := v.Verify(doc, attestation.Options{CurrentTime: time.Now(), MaxAge: 5 * time.Minute})
					if err != nil {
						t.Error(err)
						return
					}
					rand.Read(dk)
					recipient.Seal(got.PublicKey, dk, nil)
					rand.Read(nonce)
					aead.Seal(nil, nonce, dk, nil)
					n.Add(1)
				}
			}()
		}
		wg.Wait()
		return float64(n.Load()) / d.Seconds(), (proccpu.Self() - cpu0) / time.Duration(max(n.Load(), 1))
	}
	f1, fc1 := floor(d / 4)

	var errs atomic.Int64
	lat := make([][]time.Duration, clients)
	srvCPU0, cliCPU0 := procCPU(t, c.cmd.Process.Pid), proccpu.Self()
	start := time.Now()
	stop := start.Add(d)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) {
				t0 := time.Now()
				out, err := client.GenerateDataKey(ctx, in)
				if err != nil || len(out.CiphertextForRecipient) == 0 {
					if errs.Add(1) == 1 {
						t.Errorf("GenerateDataKey: %v", err)
					}
					continue
				}
				lat[i] = append(lat[i], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	srvCPU, cliCPU := procCPU(t, c.cmd.Process.Pid)-srvCPU0, proccpu.Self()-cliCPU0
	f2, fc2 := floor(d / 4)
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	slices.Sort(all)
	if len(all) == 0 {
		t.Fatal("no request completed")
	}
	rate := float64(len(all)) / elapsed.Seconds()
	fr, fc := (f1+f2)/2, (fc1+fc2)/2
	perReq := srvCPU / time.Duration(len(all))
	// The clients (this process) share the cores with the server: their
	// CPU per request bounds the wall ratio on this machine.
	cliPerReq := cliCPU / time.Duration(len(all))
	t.Logf("| %v | %d | %.0f | %v | %v | %d | %.0f | %.0f%% | %v | %v | %.0f%% | %v |", d, clients, rate,
		all[len(all)/2].Round(100*time.Microsecond), all[len(all)*99/100].Round(100*time.Microsecond), errs.Load(),
		fr, 100*rate/fr, perReq.Round(time.Microsecond), fc.Round(time.Microsecond), 100*float64(fc)/float64(perReq),
		cliPerReq.Round(time.Microsecond))
	t.Logf("columns: duration | clients | req/s | p50 | p99 | errors | floor ops/s | wall ratio | server CPU/req | floor CPU/op | CPU ratio | client CPU/req")
	if errs.Load() != 0 {
		t.Fatalf("%d errors under load", errs.Load())
	}
}
