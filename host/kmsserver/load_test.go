// SPDX-License-Identifier: Apache-2.0

package kmsserver

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"net/http"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/enclavekit/enclavekit/attestation"
	"github.com/enclavekit/enclavekit/internal/proccpu"
	"github.com/enclavekit/enclavekit/recipient"
)

// loadDuration is 2 s, or ENCLAVEKIT_LOAD (e.g. "20s") for the numbers in
// docs/PERFORMANCE.md.
func loadDuration(t *testing.T) time.Duration {
	if s := os.Getenv("ENCLAVEKIT_LOAD"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("ENCLAVEKIT_LOAD: %v", err)
		}
		return d
	}
	return 2 * time.Second
}

// floorRate runs the irreducible work of one recipient GenerateDataKey
// (warm Verifier.Verify, recipient.Seal of 32 bytes, one AES-256-GCM seal)
// on every core for d and returns operations per second.
func floorRate(t *testing.T, e *recipientEnv, doc []byte, d time.Duration) (rate float64, cpuPerOp time.Duration) {
	v, err := attestation.NewVerifier(&attestation.VerifierConfig{Roots: e.fix.Roots()})
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := aes.NewCipher(make([]byte, 32))
	aead, _ := cipher.NewGCM(blk)
	if _, err := v.Verify(doc, attestation.Options{CurrentTime: time.Now(), MaxAge: 5 * time.Minute}); err != nil {
		t.Fatal(err)
	}
	return onEveryCore(t, d, func() func() error {
		dk := make([]byte, 32)
		nonce := make([]byte, 12)
		return func() error {
			got, err := v.Verify(doc, attestation.Options{CurrentTime: time.Now(), MaxAge: 5 * time.Minute})
			if err != nil {
				return err
			}
			rand.Read(dk)
			if _, err := recipient.Seal(got.PublicKey, dk, nil); err != nil {
				return err
			}
			rand.Read(nonce)
			aead.Seal(nil, nonce, dk, nil)
			return nil
		}
	})
}

// onEveryCore runs the operation that newOp makes (one per goroutine, for
// its own buffers) on every core until d has passed, and returns the
// operations per second and the process CPU per operation: the floor that
// the load tests compare the server with.
func onEveryCore(t *testing.T, d time.Duration, newOp func() func() error) (rate float64, cpuPerOp time.Duration) {
	var n atomic.Int64
	cpu0 := proccpu.Self()
	stop := time.Now().Add(d)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			op := newOp()
			for time.Now().Before(stop) {
				if err := op(); err != nil {
					t.Error(err)
					return
				}
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	cpu := proccpu.Self() - cpu0
	return float64(n.Load()) / d.Seconds(), cpu / time.Duration(max(n.Load(), 1))
}

// TestLoadGenerateDataKeyRecipient: 64 concurrent official clients doing
// GenerateDataKey with Recipient over loopback; zero errors; reports the
// rate, p50 and p99 beside the floor measured in the same run.
func TestLoadGenerateDataKeyRecipient(t *testing.T) {
	d := loadDuration(t)
	e := newRecipientEnv(t, nil)
	id := e.createKey(t)
	doc := e.doc(t)
	ri := e.recipient(doc)

	floor1, floorCPU1 := floorRate(t, e, doc, d/4)

	const clients = 64
	tr := e.ts.Client().Transport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = clients
	e.ts.Client().Transport = tr
	client := e.clientFor(testAKID, testSecret)
	// Warm the verifier's chain cache as the floor's is (a cold burst of 64
	// would verify the chain 64 times at once).
	if _, err := client.GenerateDataKey(context.Background(), &awskms.GenerateDataKeyInput{KeyId: aws.String(id),
		KeySpec: types.DataKeySpecAes256, Recipient: ri}); err != nil {
		t.Fatal(err)
	}
	var errs atomic.Int64
	lat := make([][]time.Duration, clients)
	cpu0 := proccpu.Self()
	stop := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) {
				t0 := time.Now()
				out, err := client.GenerateDataKey(context.Background(), &awskms.GenerateDataKeyInput{KeyId: aws.String(id),
					KeySpec: types.DataKeySpecAes256, Recipient: ri})
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
	cpu := proccpu.Self() - cpu0
	floor2, floorCPU2 := floorRate(t, e, doc, d/4)
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
	p50, p99 := all[len(all)/2], all[len(all)*99/100]
	reqCPU := cpu / time.Duration(len(all))
	// Wall-clock rates swing with the other load on a shared machine; CPU
	// time per request (server and the in-process client together) against
	// the floor's CPU per operation is the steadier ratio.
	t.Logf("kms-server GenerateDataKey+Recipient, %d clients, %v, GOMAXPROCS %d: %d requests, %.0f req/s, p50 %v, p99 %v, errors %d",
		clients, d, runtime.GOMAXPROCS(0), len(all), rate, p50.Round(10*time.Microsecond), p99.Round(10*time.Microsecond), errs.Load())
	t.Logf("floor (warm Verify + recipient.Seal + AES-GCM, %d goroutines): %.0f ops/s; wall ratio %.0f%%", runtime.GOMAXPROCS(0), floor, 100*rate/floor)
	t.Logf("CPU per request %v (client included) vs floor %v per op: CPU ratio %.0f%%", reqCPU.Round(time.Microsecond), floorCPU.Round(time.Microsecond), 100*float64(floorCPU)/float64(reqCPU))
	if errs.Load() != 0 {
		t.Fatalf("%d errors under load", errs.Load())
	}
	// Open one response to be sure the load produced usable keys.
	out, err := client.GenerateDataKey(context.Background(), &awskms.GenerateDataKeyInput{KeyId: aws.String(id), KeySpec: types.DataKeySpecAes256, Recipient: ri})
	if err != nil {
		t.Fatal(err)
	}
	e.open(t, out.CiphertextForRecipient)
}
