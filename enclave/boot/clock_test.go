// SPDX-License-Identifier: Apache-2.0

package boot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/enclavekit/enclavekit/enclave/emulator"
)

// manualClock is the enclave's clock in these tests: it moves only when
// the test moves it, so a round trip is as long as the test says and not
// as long as a loaded machine makes it.
type manualClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *manualClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

// Add moves the clock d ahead.
func (c *manualClock) Add(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

// testMaxRTT is MaxRTT in these tests: SyncClock measures the round trip on
// the manual clock, but its HTTP client gives up after 2 x MaxRTT of real
// time, which a loaded machine must not reach.
const testMaxRTT = 10 * time.Second

// timeRoute serves the host's time route on a unix socket; answer picks
// the body for each request, and each request moves clk delay ahead (nil:
// no clock to move).
func timeRoute(t *testing.T, answer func() string, clk *manualClock, delay time.Duration) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "time.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != DefaultTimePath {
			http.NotFound(w, r)
			return
		}
		if clk != nil {
			clk.Add(delay)
		}
		fmt.Fprint(w, answer())
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return "unix://" + sock
}

func TestSyncClock(t *testing.T) {
	hostNow := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	host := func() string { return fmt.Sprintf(`{"unix_nano":%d}`, hostNow.UnixNano()) }
	for _, tc := range []struct {
		name    string
		enclave time.Time // the enclave's clock (frozen)
		body    func() string
		delay   time.Duration
		stepped bool
		wantErr error
	}{
		{"in tolerance", hostNow.Add(-10 * time.Millisecond), host, 0, false, nil},
		{"drift corrected", hostNow.Add(-90 * time.Second), host, 0, true, nil},
		{"ahead corrected", hostNow.Add(4 * time.Minute), host, 0, true, nil},
		{"step too large", hostNow.Add(-2 * time.Hour), host, 0, false, ErrClockStep},
		{"unset clock", time.Unix(0, 0), host, 0, true, nil},
		{"host before floor", hostNow, func() string { return `{"unix_nano":0}` }, 0, false, errAny},
		{"malformed", hostNow, func() string { return `{"time":"now"}` }, 0, false, errAny},
		{"slow answer", hostNow, host, testMaxRTT + time.Millisecond, false, errSlow},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The enclave's clock stands at tc.enclave and moves only by
			// the answer's delay.
			clk := &manualClock{now: tc.enclave}
			addr := timeRoute(t, tc.body, clk, tc.delay)
			var set []time.Time
			res, err := SyncClock(context.Background(), &ClockConfig{Addr: addr, Clock: clk.Now, MaxRTT: testMaxRTT, AllowNoReferenceUnsafe: true,
				Set: func(t time.Time) error { set = append(set, t); return nil }, Logger: slog.New(slog.DiscardHandler)})
			switch {
			case tc.wantErr == errAny && err == nil,
				tc.wantErr == errSlow && (err == nil || !strings.Contains(err.Error(), "round trip")),
				tc.wantErr != errAny && tc.wantErr != errSlow && !errors.Is(err, tc.wantErr):
				t.Fatalf("SyncClock: %v, want %v", err, tc.wantErr)
			}
			if (len(set) == 1) != tc.stepped || (res != nil && res.Stepped != tc.stepped) {
				t.Fatalf("clock set %d times (stepped %v), want stepped %v", len(set), res != nil && res.Stepped, tc.stepped)
			}
			if tc.stepped {
				if d := set[0].Sub(hostNow).Abs(); d != 0 {
					t.Fatalf("clock set %v from the host's time", d)
				}
			}
			var se *ClockStepError
			if errors.As(err, &se) && (se.Max != DefaultMaxClockStep || se.Offset < time.Hour) {
				t.Fatalf("ClockStepError %+v", se)
			}
		})
	}
}

var (
	errAny  = errors.New("any error")
	errSlow = errors.New(`an error for the round trip ("round trip ... exceeds")`)
)

// TestSyncClockReference: with a Reference (a clock the parent cannot
// set), the host's time must be within MaxStep of it: an unset enclave
// clock is no longer set to whatever time after the floor the parent
// names (years ahead, or back into an expired certificate's validity).
func TestSyncClockReference(t *testing.T) {
	trusted := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name    string
		enclave time.Time
		host    time.Time
		refErr  error
		stepped bool
		wantErr error
	}{
		{"unset clock, host agrees", time.Unix(0, 0), trusted.Add(2 * time.Second), nil, true, nil},
		{"unset clock, host years ahead", time.Unix(0, 0), trusted.AddDate(3, 0, 0), nil, false, ErrClockStep},
		{"unset clock, host back a year", time.Unix(0, 0), trusted.AddDate(-1, 0, 0), nil, false, ErrClockStep},
		{"set clock, host and clock agree, reference does not", trusted.Add(-time.Hour).Add(time.Minute), trusted.Add(-time.Hour), nil, false, ErrClockStep},
		{"set clock, drift corrected", trusted.Add(-90 * time.Second), trusted, nil, true, nil},
		{"reference fails", time.Unix(0, 0), trusted, errors.New("no NSM"), false, errAny},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := timeRoute(t, func() string { return fmt.Sprintf(`{"unix_nano":%d}`, tc.host.UnixNano()) }, nil, 0)
			ref := func() (time.Time, error) { return trusted, tc.refErr }
			var set []time.Time
			res, err := SyncClock(context.Background(), &ClockConfig{Addr: addr, Clock: (&manualClock{now: tc.enclave}).Now, Reference: ref, MaxRTT: testMaxRTT,
				Set: func(t time.Time) error { set = append(set, t); return nil }, Logger: slog.New(slog.DiscardHandler)})
			switch {
			case tc.wantErr == errAny && err == nil, tc.wantErr != errAny && !errors.Is(err, tc.wantErr):
				t.Fatalf("SyncClock: %v, want %v", err, tc.wantErr)
			}
			if (len(set) == 1) != tc.stepped || (res != nil && res.Stepped != tc.stepped) {
				t.Fatalf("clock set %v, want stepped %v", set, tc.stepped)
			}
		})
	}
}

// TestNSMTime: the reference init uses is the timestamp of a document the
// NSM makes.
func TestNSMTime(t *testing.T) {
	at := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	e, err := emulator.New(&emulator.Config{Debug: true, Clock: func() time.Time { return at }, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	got, err := NSMTime(e)()
	if err != nil || !got.Equal(at) {
		t.Fatalf("NSMTime: %v, %v; want %v", got, err, at)
	}
}
