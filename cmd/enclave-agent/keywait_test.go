// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/smithy-go"

	"github.com/enclavekit/enclavekit/enclave/agent"
	"github.com/enclavekit/enclavekit/internal/transport"
)

// fakeClock is a clock whose Sleep returns at once, moving Now on by the
// delay, recording it and calling onSleep (if set) with the count so far.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	slept   []time.Duration
	onSleep func(n int)
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.slept = append(c.slept, d)
	n, hook := len(c.slept), c.onSleep
	c.mu.Unlock()
	if hook != nil {
		hook(n)
	}
	return ctx.Err()
}

func (c *fakeClock) sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.slept...)
}

// TestServeKeyWaitUntilKeyExists: serve --key-id alias/NAME started before
// the alias exists keeps asking (KMS answers NotFoundException), logging
// each failure at WARN with the error and the next attempt, and serves once
// the operator has created the alias. Before, serve exited 1 at the first
// NotFoundException (found by review), and an enclave whose command exits
// stops.
func TestServeKeyWaitUntilKeyExists(t *testing.T) {
	e := startKMS(t)
	clk := &fakeClock{now: time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC)}
	clk.onSleep = func(n int) {
		if n == 3 { // the operator creates the alias after the third failure
			if _, err := e.admin.CreateAlias(context.Background(), &awskms.CreateAliasInput{
				AliasName: aws.String("alias/enclavekit-app"), TargetKeyId: aws.String(e.keyID)}); err != nil {
				t.Error(err)
			}
		}
	}
	agentSock := filepath.Join(e.dir, "agent.sock")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := newLogWatch()
	exited := make(chan struct{})
	var code int
	go func() {
		defer close(exited)
		code = runWith(ctx, append(e.globalArgs(pcr0Hex), "serve", "--listen", "unix://"+agentSock, "--key-id", "alias/enclavekit-app"),
			strings.NewReader(""), &bytes.Buffer{}, log, func(k string) string { return e.env[k] }, clk)
	}()
	log.waitFor(t, "attestation endpoint listening", exited)
	addr, _ := transport.ParseAddr("unix://" + agentSock)
	client := &http.Client{Timeout: waitLimit, Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return transport.Dial(ctx, addr)
	}}}
	resp, err := client.Get("http://agent/v1/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("health: %d", resp.StatusCode)
	}
	cancel()
	<-exited
	out := log.String()
	if code != 0 {
		t.Fatalf("serve exited %d:\n%s", code, out)
	}
	warns := regexp.MustCompile(`level=WARN msg="fetching the data key at start failed; trying again" attempt=(\d) error=".*NotFoundException.*" next_in=(\S+) gives_up_in=(\S+)`).FindAllStringSubmatch(out, -1)
	if len(warns) != 3 {
		t.Fatalf("%d WARN lines for the failed attempts, want 3:\n%s", len(warns), out)
	}
	slept := clk.sleeps()
	for i, w := range warns {
		if w[1] != fmt.Sprint(i+1) || w[2] != slept[i].String() {
			t.Errorf("WARN line %d: attempt %s next_in %s; slept %v", i, w[1], w[2], slept[i])
		}
		if lo, hi := keyWaitFirstDelay<<i/2, keyWaitFirstDelay<<i; slept[i] < lo || slept[i] > hi {
			t.Errorf("delay %d: %v, want within [%v, %v]", i+1, slept[i], lo, hi)
		}
	}
	if !strings.Contains(out, "data key fetched with Recipient") {
		t.Fatalf("no key fetched:\n%s", out)
	}
}

// TestServeKeyWaitGivesUp: while the key stays missing, serve asks until
// --key-wait has passed, then exits 1 naming the attempts, the wait and
// the last error; the delays grow to keyWaitMaxDelay and no further, and
// their sum is the wait. --key-wait 0 asks once, as serve did before.
func TestServeKeyWaitGivesUp(t *testing.T) {
	e := startKMS(t)
	for _, tc := range []struct {
		wait     string
		attempts int
	}{{"0", 1}, {"3m", 0}} {
		t.Run(tc.wait, func(t *testing.T) {
			clk := &fakeClock{now: time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC)}
			code, _, stderr := e.runClock(t, context.Background(), clk, append(e.globalArgs(pcr0Hex), "serve", "--listen", "unix://"+filepath.Join(e.dir, "gone.sock"),
				"--key-id", "alias/missing", "--key-wait", tc.wait)...)
			if code != 1 || !strings.Contains(stderr, "NotFoundException") {
				t.Fatalf("exit %d:\n%s", code, stderr)
			}
			slept := clk.sleeps()
			if tc.wait == "0" {
				if len(slept) != 0 || strings.Contains(stderr, "trying again") {
					t.Fatalf("--key-wait 0 waited %v:\n%s", slept, stderr)
				}
				return
			}
			var sum time.Duration
			for i, d := range slept {
				sum += d
				if d > keyWaitMaxDelay {
					t.Errorf("delay %d: %v over %v", i+1, d, keyWaitMaxDelay)
				}
			}
			if sum != 3*time.Minute {
				t.Errorf("slept %v in all (%v), want the wait, 3m", sum, slept)
			}
			want := fmt.Sprintf("enclave-agent: error: fetching the data key at start: %d attempts in 3m0s (--key-wait 3m0s), the last: ", len(slept)+1)
			if !strings.Contains(stderr, want) {
				t.Fatalf("want %q in:\n%s", want, stderr)
			}
		})
	}
}

// TestFetchDataKeyRetries: which failures of the start-up fetch are asked
// again. The agent's refusals of an answer (Plaintext despite Recipient, a
// key outside --kms-account, an envelope that does not open, no
// CiphertextForRecipient, an answer too large), an answer the SDK cannot
// read, and requests KMS calls wrong in themselves are not: one attempt,
// and the error says why. A missing key or permission, a key service not
// reachable, throttling are.
func TestFetchDataKeyRetries(t *testing.T) {
	api := func(code string) error {
		return fmt.Errorf("agent: GenerateDataKey: %w", &smithy.OperationError{ServiceID: "KMS", OperationName: "GenerateDataKey",
			Err: &smithy.GenericAPIError{Code: code, Message: "m"}})
	}
	for _, tc := range []struct {
		name  string
		err   error
		heals bool
	}{
		{"NotFound", api("NotFoundException"), true},
		{"AccessDenied", api("AccessDeniedException"), true},
		{"Disabled", api("DisabledException"), true},
		{"InvalidState", api("KMSInvalidStateException"), true},
		{"Throttling", api("ThrottlingException"), true},
		{"unreachable", fmt.Errorf("agent: GenerateDataKey: %w", &net.OpError{Op: "dial", Net: "unix", Err: errors.New("connect: no such file or directory")}), true},
		{"Validation", api("ValidationException"), false},
		{"InvalidKeyUsage", api("InvalidKeyUsageException"), false},
		{"Unsupported", api("UnsupportedOperationException"), false},
		{"Plaintext", fmt.Errorf("agent: GenerateDataKey: %w", agent.ErrPlaintextInResponse), false},
		{"NoCiphertextForRecipient", fmt.Errorf("agent: GenerateDataKey: %w", agent.ErrNoCiphertextForRecipient), false},
		{"RecipientOpen", fmt.Errorf("agent: GenerateDataKey: %w", agent.ErrRecipientOpen), false},
		{"KeyAccount", fmt.Errorf("agent: GenerateDataKey: %w", &agent.KeyAccountError{Op: "GenerateDataKey", Account: "111122223333", Got: "arn:aws:kms:us-east-1:444455556666:key/x"}), false},
		{"TooLarge", fmt.Errorf("agent: GenerateDataKey: %w", &agent.AnswerTooLargeError{Limit: 1 << 20, ContentLength: -1}), false},
		{"malformed", fmt.Errorf("agent: GenerateDataKey: %w", &smithy.DeserializationError{Err: errors.New("invalid character")}), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := &fakeClock{now: time.Unix(0, 0)}
			calls := 0
			var logBuf bytes.Buffer
			log := slog.New(slog.NewTextHandler(&logBuf, nil))
			dk, err := fetchDataKey(context.Background(), log, clk, func() float64 { return 0.5 }, time.Minute,
				func(context.Context) (*agent.DataKey, error) {
					calls++
					if calls == 3 {
						return &agent.DataKey{KeyID: "k"}, nil
					}
					return nil, tc.err
				})
			if tc.heals {
				if err != nil || dk == nil || calls != 3 || strings.Count(logBuf.String(), "level=WARN") != 2 {
					t.Fatalf("retried: %d calls, err %v, log:\n%s", calls, err, logBuf.String())
				}
				return
			}
			if err == nil || calls != 1 || !errors.Is(err, tc.err) || logBuf.Len() != 0 ||
				!strings.Contains(err.Error(), "(attempt 1; not retried: waiting cannot change this answer)") {
				t.Fatalf("%d calls, err %v, log:\n%s", calls, err, logBuf.String())
			}
		})
	}
	// A signal while waiting stops the wait, with the last error.
	ctx, cancel := context.WithCancel(context.Background())
	clk := &fakeClock{now: time.Unix(0, 0), onSleep: func(int) { cancel() }}
	calls := 0
	_, err := fetchDataKey(ctx, slog.New(slog.DiscardHandler), clk, func() float64 { return 0 }, time.Minute,
		func(context.Context) (*agent.DataKey, error) { calls++; return nil, api("NotFoundException") })
	if calls != 1 || err == nil || !strings.Contains(err.Error(), "stopped (context canceled) while waiting to try again; attempt 1: ") ||
		!strings.Contains(err.Error(), "NotFoundException") {
		t.Fatalf("%d calls: %v", calls, err)
	}
}

// TestKeyWaitDelay: 1s, 2s, 4s, ... doubled up to 30s, each drawn from its
// upper half.
func TestKeyWaitDelay(t *testing.T) {
	for n, want := range []time.Duration{1, 2, 4, 8, 16, 30, 30, 30} {
		want *= time.Second
		if n == 5 {
			want = keyWaitMaxDelay
		}
		if lo, hi := keyWaitDelay(n+1, 0), keyWaitDelay(n+1, 0.999999999); lo != want/2 || hi > want || hi < want-time.Millisecond {
			t.Errorf("attempt %d: delays [%v, %v], want [%v, %v]", n+1, lo, hi, want/2, want)
		}
	}
	if d := keyWaitDelay(1000, 1); d > keyWaitMaxDelay {
		t.Errorf("attempt 1000: %v", d)
	}
}
