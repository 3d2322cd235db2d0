// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/smithy-go"

	"github.com/enclavekit/enclavekit/enclave/agent"
)

// defaultKeyWait is serve's --key-wait: how long the data key fetched at
// start is retried before serve gives up. An enclave whose command exits
// stops, and outside debug mode its operator sees no log: a key that is
// created, or a key policy that is fixed, a few minutes after the enclave
// starts should not cost a restart.
const defaultKeyWait = 5 * time.Minute

// Bounds of the delay between two attempts at the start-up fetch: the
// first is keyWaitFirstDelay, each next one twice the last, at most
// keyWaitMaxDelay, each then drawn at random from its upper half (jitter,
// so that enclaves started together do not ask KMS in step).
const (
	keyWaitFirstDelay = time.Second
	keyWaitMaxDelay   = 30 * time.Second
)

// clock is the time serve's start-up fetch waits on: the real one, or a
// test's.
type clock interface {
	Now() time.Time
	// Sleep waits for d or until ctx is done (then returns ctx's error).
	Sleep(ctx context.Context, d time.Duration) error
}

// realClock is the system clock.
type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// keyWaitDelay is the delay after failed attempt n (1 for the first):
// keyWaitFirstDelay doubled n-1 times, at most keyWaitMaxDelay, then drawn
// from its upper half with jitter (a number in [0, 1)).
func keyWaitDelay(n int, jitter float64) time.Duration {
	d := keyWaitFirstDelay
	for i := 1; i < n && d < keyWaitMaxDelay; i++ {
		d *= 2
	}
	d = min(d, keyWaitMaxDelay)
	return d/2 + time.Duration(jitter*float64(d/2))
}

// keyFetchHeals reports whether a failed start-up fetch may succeed if
// asked again later: a key not created yet (NotFoundException), a key
// policy or grant not written yet (AccessDeniedException), a key disabled
// or pending import, a key service or proxy not reachable yet, credentials
// not served yet. It is false for what waiting cannot change:
//
//   - the agent's refusals of the answer (Plaintext despite Recipient, no
//     CiphertextForRecipient or one that does not open, a key outside
//     --kms-account, an answer over the size bound): asked again, the
//     same key service gives the same kind of answer, and a parent that
//     forges answers learns nothing from asking the enclave again;
//   - an answer the SDK cannot read (malformed);
//   - a request the key service refuses as wrong in itself
//     (ValidationException, InvalidKeyUsageException: a key that is not
//     for encryption, UnsupportedOperationException,
//     InvalidGrantTokenException, DryRunOperationException);
//   - the agent's configuration, and ctx done (a signal).
func keyFetchHeals(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	for _, refused := range []error{agent.ErrPlaintextInResponse, agent.ErrNoCiphertextForRecipient,
		agent.ErrRecipientOpen, agent.ErrKeyAccount, agent.ErrAnswerTooLarge, agent.ErrConfig,
		context.Canceled} {
		if errors.Is(err, refused) {
			return false
		}
	}
	if de := (*smithy.DeserializationError)(nil); errors.As(err, &de) {
		return false
	}
	if ae := smithy.APIError(nil); errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "ValidationException", "InvalidKeyUsageException", "UnsupportedOperationException",
			"InvalidGrantTokenException", "DryRunOperationException":
			return false
		}
	}
	return true
}

// fetchDataKey runs fetch, the start-up GenerateDataKey, and while it
// fails with an error that may heal (keyFetchHeals) asks again after a
// delay (keyWaitDelay, with jitter from jitter), logging each failure at
// WARN with the error and when the next attempt is; it stops asking once
// wait has passed since the first attempt (a last attempt is made at that
// time), and returns the last error, saying how long it tried. A wait of
// 0 makes one attempt.
func fetchDataKey(ctx context.Context, log *slog.Logger, clk clock, jitter func() float64, wait time.Duration,
	fetch func(context.Context) (*agent.DataKey, error)) (*agent.DataKey, error) {
	start := clk.Now()
	deadline := start.Add(wait)
	for n := 1; ; n++ {
		dk, err := fetch(ctx)
		if err == nil {
			return dk, nil
		}
		if wait <= 0 {
			return nil, fmt.Errorf("fetching the data key at start: %w", err)
		}
		if !keyFetchHeals(ctx, err) {
			return nil, fmt.Errorf("fetching the data key at start (attempt %d; not retried: waiting cannot change this answer): %w", n, err)
		}
		left := deadline.Sub(clk.Now())
		if left <= 0 {
			return nil, fmt.Errorf("fetching the data key at start: %d attempts in %v (--key-wait %v), the last: %w",
				n, clk.Now().Sub(start).Round(time.Millisecond), wait, err)
		}
		d := min(keyWaitDelay(n, jitter()), left)
		log.Warn("fetching the data key at start failed; trying again", slog.Int("attempt", n), slog.String("error", err.Error()),
			slog.Duration("next_in", d), slog.Duration("gives_up_in", left))
		if serr := clk.Sleep(ctx, d); serr != nil {
			return nil, fmt.Errorf("fetching the data key at start: stopped (%v) while waiting to try again; attempt %d: %w", serr, n, err)
		}
	}
}
