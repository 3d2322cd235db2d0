// SPDX-License-Identifier: Apache-2.0

package kmsserver

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/enclavekit/enclavekit/host/kmsserver/keyspec"
	"github.com/enclavekit/enclavekit/internal/proccpu"
)

// signKey creates an ECC_NIST_P256 signing key and returns its ID and its
// material, for the floor.
func signKey(tb testing.TB, env *testEnv) (string, *keyspec.Key) {
	tb.Helper()
	id := env.createSpecKey(tb, types.KeySpecEccNistP256, types.KeyUsageTypeSignVerify, nil)
	k, err := env.srv.store.GetKey(context.Background(), id)
	if err != nil {
		tb.Fatal(err)
	}
	m, err := env.srv.material(k)
	if err != nil {
		tb.Fatal(err)
	}
	return id, m.spec
}

// signFloorRate runs keyspec Sign (ECDSA_SHA_256, 64-byte RAW message) on
// every core for d: the cryptography of one Sign request, which is itself
// within 1% of the bare crypto/ecdsa call (docs/PERFORMANCE.md, keyspec).
func signFloorRate(t *testing.T, k *keyspec.Key, msg []byte, d time.Duration) (rate float64, cpuPerOp time.Duration) {
	return onEveryCore(t, d, func() func() error {
		return func() error {
			_, err := k.Sign(keyspec.ECDSA_SHA_256, keyspec.RAW, msg)
			return err
		}
	})
}

// TestLoadSign: 64 concurrent official clients doing Sign (ECC_NIST_P256,
// ECDSA_SHA_256) over loopback; zero errors, every signature verifies;
// reports the rate, p50 and p99 beside the floor measured in the same run.
func TestLoadSign(t *testing.T) {
	d := loadDuration(t)
	env := newEnv(t, nil)
	id, key := signKey(t, env)
	msg := bytes.Repeat([]byte("m"), 64)
	floor1, floorCPU1 := signFloorRate(t, key, msg, d/4)

	const clients = 64
	tr := env.ts.Client().Transport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = clients
	env.ts.Client().Transport = tr
	client := env.clientFor(testAKID, testSecret)
	in := &awskms.SignInput{KeyId: aws.String(id), Message: msg, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256}
	var errs atomic.Int64
	lat := make([][]time.Duration, clients)
	sigs := make([][]byte, clients)
	cpu0 := proccpu.Self()
	start := time.Now()
	stop := start.Add(d)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) {
				t0 := time.Now()
				out, err := client.Sign(context.Background(), in)
				if err != nil {
					if errs.Add(1) == 1 {
						t.Errorf("Sign: %v", err)
					}
					continue
				}
				lat[i] = append(lat[i], time.Since(t0))
				sigs[i] = out.Signature
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu := proccpu.Self() - cpu0
	floor2, floorCPU2 := signFloorRate(t, key, msg, d/4)
	floor, floorCPU := (floor1+floor2)/2, (floorCPU1+floorCPU2)/2
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	slices.Sort(all)
	if len(all) == 0 {
		t.Fatal("no request completed")
	}
	rate := float64(len(all)) / elapsed.Seconds()
	reqCPU := cpu / time.Duration(len(all))
	t.Logf("kms-server Sign ECDSA_SHA_256 (P-256), %d clients, %v, GOMAXPROCS %d: %d requests, %.0f req/s, p50 %v, p99 %v, errors %d",
		clients, d, runtime.GOMAXPROCS(0), len(all), rate, all[len(all)/2].Round(10*time.Microsecond), all[len(all)*99/100].Round(10*time.Microsecond), errs.Load())
	t.Logf("floor (keyspec Sign, %d goroutines): %.0f ops/s; wall ratio %.1f%%", runtime.GOMAXPROCS(0), floor, 100*rate/floor)
	t.Logf("CPU per request %v (client included) vs floor %v per op: CPU ratio %.1f%%", reqCPU.Round(time.Microsecond), floorCPU.Round(time.Microsecond), 100*float64(floorCPU)/float64(reqCPU))
	if errs.Load() != 0 {
		t.Fatalf("%d errors under load", errs.Load())
	}
	for i, sig := range sigs {
		if sig != nil {
			if err := key.Verify(keyspec.ECDSA_SHA_256, keyspec.RAW, msg, sig); err != nil {
				t.Fatalf("client %d: the signature under load does not verify: %v", i, err)
			}
		}
	}
}

// BenchmarkServeSign is the server's whole request path for Sign
// (ECC_NIST_P256, ECDSA_SHA_256, 64-byte message) without the network:
// SigV4 verification, JSON, policy, key store, signing, audit, metrics.
// BenchmarkFloorSign is the signing alone.
func BenchmarkServeSign(b *testing.B) {
	env := newEnv(b, nil)
	id, _ := signKey(b, env)
	body, _ := json.Marshal(map[string]any{"KeyId": id, "Message": bytes.Repeat([]byte("m"), 64), "SigningAlgorithm": "ECDSA_SHA_256"})
	req, _ := http.NewRequest("POST", "http://kms.local/", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "TrentService.Sign")
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: testSecret},
		req, hex.EncodeToString(sum[:]), "kms", "us-east-1", time.Now()); err != nil {
		b.Fatal(err)
	}
	h := env.srv.Handler()
	serve := func() {
		r := httptest.NewRequest("POST", "http://kms.local/", bytes.NewReader(body))
		r.Header = req.Header.Clone()
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != 200 {
			b.Fatalf("status %d: %s", w.Code, w.Body.String())
		}
	}
	serve()
	for b.Loop() {
		serve()
	}
}

// BenchmarkFloorSign is BenchmarkServeSign's floor: keyspec Sign on the
// same kind of key and message.
func BenchmarkFloorSign(b *testing.B) {
	env := newEnv(b, nil)
	_, key := signKey(b, env)
	msg := bytes.Repeat([]byte("m"), 64)
	for b.Loop() {
		if _, err := key.Sign(keyspec.ECDSA_SHA_256, keyspec.RAW, msg); err != nil {
			b.Fatal(err)
		}
	}
}
